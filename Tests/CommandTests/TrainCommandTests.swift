import Checkpoint
import Foundation
import TestSupport
import XCTest

/// `llava train` end to end on a tiny LLM (Tests/Fixtures/llama/mha) and CLIP tower
/// (Tests/Fixtures/llava/orig-mlp2x-clip) with a data set made here: stage 1, stage 2, then
/// `llava generate` answers the training questions; and a SIGKILLed run resumes exactly.
final class TrainCommandTests: XCTestCase {
    static let answers = ["photo_500x333.jpg": "a red circle", "gray.png": "a blue square",
                          "rgba.png": "a green triangle", "palette.png": "a yellow star"]
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-train-\(UUID().uuidString)")
        try Self.writeData(to: dir)
    }

    /// The four fixture images and their stage-1 (pretrain.json) and stage-2 (finetune.json,
    /// plus one text-only record) data, in `dir`.
    static func writeData(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var pretrain: [[String: Any]] = [], finetune: [[String: Any]] = []
        for (i, (image, answer)) in Self.answers.sorted(by: { $0.key < $1.key }).enumerated() {
            try FileManager.default.copyItem(at: Fixtures.url("images/\(image)"), to: dir.appendingPathComponent(image))
            pretrain.append(["id": "p\(i)", "image": image, "conversations": [
                ["from": "human", "value": "Describe the image briefly.\n<image>"], ["from": "gpt", "value": answer]]])
            finetune.append(["id": "f\(i)", "image": image, "conversations": [
                ["from": "human", "value": "<image>\nWhat is shown?"], ["from": "gpt", "value": answer]]])
        }
        finetune.append(["id": "text", "conversations": [["from": "human", "value": "Say hello."], ["from": "gpt", "value": "hello"]]])
        try JSONSerialization.data(withJSONObject: pretrain).write(to: dir.appendingPathComponent("pretrain.json"))
        try JSONSerialization.data(withJSONObject: finetune).write(to: dir.appendingPathComponent("finetune.json"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var base: [String] {
        ["--model-name-or-path", Fixtures.url("llama/mha").path, "--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path,
         "--image-folder", dir.path, "--quiet"]
    }

    /// `llava train STAGE` on the data file `data` of `dir`, into dir/RUN, with `extra` flags.
    func train(_ stage: String, _ data: String, into run: String, _ extra: [String]) throws -> CommandResult {
        try LLaVAExecutable.run(["train", stage] + base + ["--data", dir.appendingPathComponent(data).path,
                                 "--output-dir", dir.appendingPathComponent(run).path] + extra, timeout: 300)
    }

    func losses(_ run: String) throws -> [Double] { try Self.losses(dir.appendingPathComponent(run)) }

    /// The per-step losses of a run's metrics.jsonl.
    static func losses(_ run: URL) throws -> [Double] { try metric("loss", of: run) }

    /// One field (`loss`, `grad_norm`, …) of every record of a run's metrics.jsonl.
    static func metric(_ key: String, of run: URL) throws -> [Double] {
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map {
            let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            return (o[key] as! NSNumber).doubleValue
        }
    }

    func testPretrainThenFinetuneLearnsToAnswerItsTrainingQuestions() throws {
        let s1 = try LLaVAExecutable.run(["train", "pretrain"] + base + [
            "--data", dir.appendingPathComponent("pretrain.json").path, "--output-dir", dir.appendingPathComponent("s1").path,
            "--batch-size", "4", "--max-steps", "30", "--learning-rate", "1e-2"], timeout: 300)
        XCTAssertEqual(s1.status, 0, s1.stderr)
        let l1 = try losses("s1")
        XCTAssertLessThan(l1.suffix(3).reduce(0, +) / 3, l1.prefix(3).reduce(0, +) / 3 * 0.5, "stage-1 loss should fall: \(l1)")
        let projector = dir.appendingPathComponent("s1/mm_projector.safetensors").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: projector))

        let s2 = try LLaVAExecutable.run(["train", "finetune"] + base + [
            "--data", dir.appendingPathComponent("finetune.json").path, "--output-dir", dir.appendingPathComponent("s2").path,
            "--pretrain-mm-mlp-adapter", projector, "--batch-size", "5", "--max-steps", "40", "--learning-rate", "3e-3"],
                                        timeout: 300)
        XCTAssertEqual(s2.status, 0, s2.stderr)
        let l2 = try losses("s2")
        XCTAssertLessThan(l2.last!, l2.first! * 0.1, "stage-2 loss should fall: \(l2)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("s2/loss.svg").path))
        let model = dir.appendingPathComponent("s2/model").path
        for (image, answer) in Self.answers {
            let r = try LLaVAExecutable.run(["generate", "--model", model, "--image", dir.appendingPathComponent(image).path,
                                             "--prompt", "What is shown?", "--max-new-tokens", "12"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), answer, image)
        }
    }

    /// `--mm-projector-init whiten` starts stage 1 from a projector reading whitened features and
    /// still learns; it is refused where the projector is not new.
    func testWhitenedProjectorInitialisation() throws {
        let data = "pretrain.json"
        let s1 = try train("pretrain", data, into: "w1", ["--mm-projector-init", "whiten",
            "--batch-size", "4", "--max-steps", "30", "--learning-rate", "1e-2"])
        XCTAssertEqual(s1.status, 0, s1.stderr)
        XCTAssertTrue(s1.stderr.contains("whitened input") && s1.stderr.contains("of 4 images"), s1.stderr)
        let l1 = try losses("w1")
        XCTAssertLessThan(l1.suffix(3).reduce(0, +) / 3, l1.prefix(3).reduce(0, +) / 3 * 0.5, "stage-1 loss should fall: \(l1)")

        let again = try train("finetune", data, into: "w2", ["--mm-projector-init", "whiten",
            "--pretrain-mm-mlp-adapter", dir.appendingPathComponent("w1/mm_projector.safetensors").path, "--max-steps", "1"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--mm-projector-init whiten starts a new projector"), again.stderr)
        let typo = try train("pretrain", data, into: "w3", ["--mm-projector-init", "pca", "--max-steps", "1"])
        XCTAssertNotEqual(typo.status, 0)
        XCTAssertTrue(typo.stderr.contains("default or whiten, got pca"), typo.stderr)
    }

    /// `--length-grouping N` trains (its batches pad less); 0 is refused, naming the option.
    func testLengthGroupingTrainsAndRefusesZero() throws {
        let grouped = try train("finetune", "finetune.json", into: "g1", ["--length-grouping", "2",
            "--batch-size", "2", "--max-steps", "4", "--learning-rate", "1e-3"])
        XCTAssertEqual(grouped.status, 0, grouped.stderr)
        XCTAssertEqual(try losses("g1").count, 4)
        let zero = try train("finetune", "finetune.json", into: "g2", ["--length-grouping", "0", "--max-steps", "1"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("--length-grouping must be positive, got 0"), zero.stderr)
    }

    /// A feature cache is keyed by the hidden state it holds, not by how the layer was written:
    /// one cached at layer -2 of the 3-layer tower serves a run reading layer 2 (as a LLaVA
    /// checkpoint's config may spell it) and is refused, naming the file, for layer 1.
    func testFeatureCacheMatchesTheLayerCountedEitherWay() throws {
        let data = dir.appendingPathComponent("pretrain.json").path
        let cache = dir.appendingPathComponent("features.safetensors").path
        let made = try LLaVAExecutable.run(["train", "cache-features"] + base.filter { $0 != "--quiet" } + [
            "--data", data, "--mm-vision-select-layer", "-2", "--output", cache], timeout: 300)
        XCTAssertEqual(made.status, 0, made.stderr)
        func pretrain(_ layer: String, _ out: String) throws -> CommandResult {
            try LLaVAExecutable.run(["train", "pretrain"] + base + [
                "--data", data, "--feature-cache", cache, "--mm-vision-select-layer", layer,
                "--output-dir", dir.appendingPathComponent(out).path, "--batch-size", "4", "--max-steps", "1"], timeout: 300)
        }
        let same = try pretrain("2", "c1")
        XCTAssertEqual(same.status, 0, same.stderr)
        let other = try pretrain("1", "c2")
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.contains(cache) && other.stderr.contains("feature_layer = 2, this run needs 1"), other.stderr)
    }

    /// `train clip --init-from`: the weights come from the given CLIPModel (a run at learning
    /// rate 0 writes them back unchanged), the architecture from its config (flags for it are
    /// refused), and its token ids must be the tokenizer's.
    func testCLIPInitFromStartsFromTheGivenWeights() throws {
        let data = dir.appendingPathComponent("pretrain.json").path
        func clip(_ out: String, _ extra: [String]) throws -> CommandResult {
            try LLaVAExecutable.run(["train", "clip", "--data", data, "--image-folder", dir.path, "--output-dir",
                                     dir.appendingPathComponent(out).path, "--batch-size", "4", "--quiet"] + extra, timeout: 300)
        }
        let tokenizer = ["--tokenizer", Fixtures.url("llama/mha").path]
        let first = try clip("c1", tokenizer + ["--hidden", "32", "--layers", "1", "--heads", "2", "--text-hidden", "32",
                                                 "--text-layers", "1", "--projection-dim", "16", "--image-size", "32",
                                                 "--patch-size", "16", "--max-steps", "5", "--learning-rate", "1e-2"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let c1 = dir.appendingPathComponent("c1").path
        let second = try clip("c2", tokenizer + ["--init-from", c1, "--max-steps", "1", "--learning-rate", "0"])
        XCTAssertEqual(second.status, 0, second.stderr)
        let a = try SafeTensorsFile(url: dir.appendingPathComponent("c1/model.safetensors"))
        let b = try SafeTensorsFile(url: dir.appendingPathComponent("c2/model.safetensors"))
        XCTAssertEqual(a.tensorNames, b.tensorNames)
        for name in a.tensorNames { XCTAssertEqual(try a.tensor(name).toF32().toFloatArray(), try b.tensor(name).toF32().toFloatArray(), name) }

        let flags = try clip("c3", tokenizer + ["--init-from", c1, "--hidden", "64", "--max-steps", "1"])
        XCTAssertNotEqual(flags.status, 0)
        XCTAssertTrue(flags.stderr.contains("architecture from its config.json; drop --hidden"), flags.stderr)
        // A model whose end-of-text id is not the tokenizer's.
        let other = dir.appendingPathComponent("c1-other")
        try FileManager.default.copyItem(at: dir.appendingPathComponent("c1"), to: other)
        let configURL = other.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        var text = config["text_config"] as! [String: Any]
        text["eos_token_id"] = 5
        config["text_config"] = text
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let mismatch = try clip("c4", tokenizer + ["--init-from", other.path, "--max-steps", "1"])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.stderr.contains("config.json does not match the tokenizer") && mismatch.stderr.contains("eos_token_id 5 vs"),
                      mismatch.stderr)
    }

    /// `train clip` on several --data files, each with its own --image-folder, trains on all
    /// their pairs: the four images split over two files and folders give the same model as one
    /// file of all four. A folder count that is neither one nor one per file is refused.
    func testCLIPTrainsOnSeveralFilesEachWithItsFolder() throws {
        let records = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("pretrain.json"))) as! [[String: Any]]
        let (second, all) = (dir.appendingPathComponent("second"), dir.appendingPathComponent("all"))
        for folder in [second, all] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        for (i, record) in records.enumerated() {
            let image = record["image"] as! String
            try FileManager.default.copyItem(at: dir.appendingPathComponent(image), to: all.appendingPathComponent(image))
            if i >= 2 { try FileManager.default.moveItem(at: dir.appendingPathComponent(image), to: second.appendingPathComponent(image)) }
        }
        let (a, b) = (dir.appendingPathComponent("a.json"), dir.appendingPathComponent("b.json"))
        try JSONSerialization.data(withJSONObject: Array(records[..<2])).write(to: a)
        try JSONSerialization.data(withJSONObject: Array(records[2...])).write(to: b)
        let architecture = ["--tokenizer", Fixtures.url("llama/mha").path, "--hidden", "32", "--layers", "1", "--heads", "2",
                            "--text-hidden", "32", "--text-layers", "1", "--projection-dim", "16", "--image-size", "32",
                            "--patch-size", "16", "--max-steps", "3", "--batch-size", "4", "--learning-rate", "1e-2", "--quiet"]
        func clip(_ out: String, _ data: [String]) throws -> CommandResult {
            try LLaVAExecutable.run(["train", "clip"] + data + ["--output-dir", dir.appendingPathComponent(out).path] + architecture,
                                    timeout: 300)
        }
        let split = try clip("split", ["--data", a.path, b.path, "--image-folder", dir.path, second.path])
        XCTAssertEqual(split.status, 0, split.stderr)
        XCTAssertTrue(split.stdout.contains("on 4 pairs"), split.stdout)
        let whole = try clip("whole", ["--data", dir.appendingPathComponent("pretrain.json").path, "--image-folder", all.path])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let x = try SafeTensorsFile(url: dir.appendingPathComponent("split/model.safetensors"))
        let y = try SafeTensorsFile(url: dir.appendingPathComponent("whole/model.safetensors"))
        XCTAssertEqual(x.tensorNames, y.tensorNames)
        for name in x.tensorNames { XCTAssertEqual(try x.tensor(name).toF32().toFloatArray(), try y.tensor(name).toF32().toFloatArray(), name) }

        let missing = try clip("missing", ["--data", a.path, b.path, "--image-folder", dir.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains(dir.appendingPathComponent(records[2]["image"] as! String).path), missing.stderr)
        let counts = try clip("counts", ["--data", a.path, b.path, a.path, "--image-folder", dir.path, second.path])
        XCTAssertNotEqual(counts.status, 0)
        XCTAssertTrue(counts.stderr.contains("--image-folder: give one folder for every --data file or one per file (3 --data files, 2 folders)"),
                      counts.stderr)
    }

    /// `--prompt-format v1`: the tokenizer and the language model see each record as stage 2
    /// renders it, so the template's words get pieces of their own and each record is one
    /// document; without it they see the records' separate strings.
    func testTokenizerAndLanguageModelOnRenderedPrompts() throws {
        let data = dir.appendingPathComponent("finetune.json").path
        func tokens(_ extra: [String]) throws -> [String] {
            let out = dir.appendingPathComponent("tok\(extra.count)")
            let r = try LLaVAExecutable.run(["train-tokenizer", "--input", data, "--vocab-size", "420", "--out", out.path,
                                             "--special-added-token", "<image>"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("tokenizer.json"))) as! [String: Any]
            return Array(((json["model"] as! [String: Any])["vocab"] as! [String: Int]).keys)
        }
        let rendered = try tokens(["--prompt-format", "v1"]), strings = try tokens([])
        XCTAssertTrue(rendered.contains("▁ASSISTANT") && rendered.contains("▁USER"), "\(rendered.sorted())")
        XCTAssertFalse(strings.contains("▁ASSISTANT"))

        let lm = try LLaVAExecutable.run(["train", "lm", "--tokenizer", dir.appendingPathComponent("tok2").path, "--data", data,
                                          "--prompt-format", "v1", "--hidden-size", "32", "--intermediate-size", "64",
                                          "--layers", "1", "--heads", "2", "--max-steps", "2", "--no-packing",
                                          "--output-dir", dir.appendingPathComponent("lm").path, "--quiet"])
        XCTAssertEqual(lm.status, 0, lm.stderr)
        XCTAssertTrue(lm.stderr.contains("pretraining on 5 documents"), lm.stderr)

        let bad = dir.appendingPathComponent("bad.json")
        try Data(#"[{"id": "odd", "conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}]}]"#.utf8).write(to: bad)
        let refused = try LLaVAExecutable.run(["train-tokenizer", "--input", bad.path, "--vocab-size", "300",
                                               "--out", dir.appendingPathComponent("tokbad").path, "--prompt-format", "v1"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("odd") && refused.stderr.contains("alternate"), refused.stderr)
        let chat = dir.appendingPathComponent("chat.json")
        try Data(#"[{"id": "two-rounds", "conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}, {"from": "human", "value": "c"}, {"from": "gpt", "value": "d"}]}]"#.utf8).write(to: chat)
        let plain = try LLaVAExecutable.run(["train-tokenizer", "--input", chat.path, "--vocab-size", "300",
                                             "--out", dir.appendingPathComponent("tokplain").path, "--prompt-format", "plain"])
        XCTAssertNotEqual(plain.status, 0)
        XCTAssertTrue(plain.stderr.contains("chat.json") && plain.stderr.contains("two-rounds") && plain.stderr.contains("found 4"),
                      plain.stderr)
    }

    // MARK: - LoRA: the adapter folder and `llava export --merge-lora`

    /// `train finetune --lora-r 4` from `model` (plus `extra`) into `out`; returns the run's folder.
    func loraRun(_ model: [String], _ extra: [String] = [], out: String) throws -> URL {
        let r = try LLaVAExecutable.run(["train", "finetune", "--image-folder", dir.path, "--quiet"] + model + extra + [
            "--data", dir.appendingPathComponent("finetune.json").path, "--output-dir", dir.appendingPathComponent(out).path,
            "--lora-r", "4", "--lora-alpha", "8", "--batch-size", "5", "--max-steps", "3", "--learning-rate", "1e-2",
            "--mm-projector-lr", "1e-2"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = dir.appendingPathComponent(out)
        for f in ["model/model.safetensors", "model/config.json", "adapter/adapter_model.safetensors", "adapter/adapter_config.json",
                  "adapter/non_lora_trainables.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent(f).path), f)
        }
        return run
    }

    func merge(_ model: [String], adapter: URL, out: String) throws -> (CommandResult, URL) {
        let output = dir.appendingPathComponent(out)
        let r = try LLaVAExecutable.run(["export"] + model + ["--adapter", adapter.path, "--merge-lora", "--output", output.path])
        return (r, output)
    }

    /// The merged model equals the run's own OUT/model: the same tensor names, every value
    /// within 1e-5 (both sides fold the same f32 adapters into the same base), the same config.
    func assertSameModel(_ merged: URL, _ run: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try SafeTensorsFile(url: merged.appendingPathComponent("model.safetensors"))
        let b = try SafeTensorsFile(url: run.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(a.tensorNames, b.tensorNames, file: file, line: line)
        for name in a.tensorNames where b.info(name) != nil {
            let x = try a.tensor(name), y = try b.tensor(name)
            XCTAssertEqual(x.shape, y.shape, name, file: file, line: line)
            let diff = zip(x.toF32().toFloatArray(), y.toF32().toFloatArray()).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 1e-5, name, file: file, line: line)
        }
        let configs = try [merged, run].map {
            try JSONSerialization.jsonObject(with: Data(contentsOf: $0.appendingPathComponent("config.json"))) as! NSDictionary
        }
        XCTAssertEqual(configs[0], configs[1], file: file, line: line)
    }

    /// Bare LLM + stage-1 projector: the merge carries the projector the run trained, not the
    /// stage-1 one, and the LoRA-adapted Linears (only they) differ from the base.
    func testLoRAMergeFromABareLLMEqualsTheRunsModel() throws {
        let s1 = try LLaVAExecutable.run(["train", "pretrain"] + base + [
            "--data", dir.appendingPathComponent("pretrain.json").path, "--output-dir", dir.appendingPathComponent("s1").path,
            "--batch-size", "4", "--max-steps", "2", "--learning-rate", "1e-2"], timeout: 300)
        XCTAssertEqual(s1.status, 0, s1.stderr)
        let stage1 = dir.appendingPathComponent("s1/mm_projector.safetensors")
        let llm = ["--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path]
        let run = try loraRun(["--model-name-or-path", Fixtures.url("llama/mha").path] + llm,
                              ["--pretrain-mm-mlp-adapter", stage1.path], out: "lora")
        let (r, merged) = try merge(["--model", Fixtures.url("llama/mha").path] + llm + ["--projector", stage1.path],
                                    adapter: run.appendingPathComponent("adapter"), out: "merged")
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertSameModel(merged, run.appendingPathComponent("model"))

        let out = try SafeTensorsFile(url: merged.appendingPathComponent("model.safetensors"))
        let start = try SafeTensorsFile(url: stage1)
        XCTAssertNotEqual(try out.tensor("multi_modal_projector.linear_1.weight").toFloatArray(),
                          try start.tensor("model.mm_projector.0.weight").toFloatArray(), "the projector trained")
        let llmWeights = try WeightStore(directory: Fixtures.url("llama/mha"))
        var changed = 0
        for name in out.tensorNames where name.hasPrefix("language_model.") && !name.contains("embed_tokens") && !name.contains("lm_head") {
            let baseName = name.replacingOccurrences(of: "language_model.model.", with: "model.")
            if try out.tensor(name).toFloatArray() != llmWeights.tensor(baseName).toFloatArray() { changed += 1 }
        }
        XCTAssertEqual(changed, 2 * 7, "every adapted Linear of the 2 blocks changed, nothing else")
    }

    /// A LLaVA base of either layout: the merge equals the run's model and its projector moved.
    func testLoRAMergeFromALLaVAEqualsTheRunsModel() throws {
        for (i, model) in [["llava/hf-mlp2x-default"], ["llava/orig-mlp2x", "llava/orig-mlp2x-clip"]].enumerated() {
            let args = ["--model", Fixtures.url(model[0]).path] + (model.count > 1 ? ["--vision-tower", Fixtures.url(model[1]).path] : [])
            let run = try loraRun(["--model-name-or-path"] + args.dropFirst(), out: "lora\(i)")
            let (r, merged) = try merge(args, adapter: run.appendingPathComponent("adapter"), out: "merged\(i)")
            XCTAssertEqual(r.status, 0, r.stderr)
            try assertSameModel(merged, run.appendingPathComponent("model"))
            let trainables = try SafeTensorsFile(url: run.appendingPathComponent("adapter/non_lora_trainables.safetensors"))
            XCTAssertEqual(trainables.tensorNames, ["base_model.model.model.mm_projector.0.bias", "base_model.model.model.mm_projector.0.weight",
                                                    "base_model.model.model.mm_projector.2.bias", "base_model.model.model.mm_projector.2.weight"])
        }
    }

    /// An adapter folder without its trained projector, or a base it was not trained on, is
    /// refused with the file (and key) named.
    func testLoRAMergeRefusesAnIncompleteAdapterOrAnotherBase() throws {
        let tower = ["--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path]
        let run = try loraRun(["--model-name-or-path", Fixtures.url("llama/mha").path] + tower, out: "lora")
        let adapter = run.appendingPathComponent("adapter")
        let config = adapter.appendingPathComponent("adapter_config.json").path
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        XCTAssertEqual(json["base_model_name_or_path"] as? String, Fixtures.url("llama/mha").path)
        XCTAssertEqual((json["llava_base"] as? [String: Any])?["mm_projector_type"] as? String, "mlp2x_gelu")

        let gqa = try merge(["--model", Fixtures.url("llama/gqa").path] + tower, adapter: adapter, out: "m1").0
        XCTAssertNotEqual(gqa.status, 0)
        XCTAssertTrue(gqa.stderr.contains(config) && gqa.stderr.contains("'llava_base.hidden_size' is 64 but the base model has 96"), gqa.stderr)
        let linear = try merge(["--model", Fixtures.url("llava/orig-linear").path, "--vision-tower", Fixtures.url("llava/orig-linear-clip").path],
                               adapter: adapter, out: "m2").0
        XCTAssertNotEqual(linear.status, 0)
        XCTAssertTrue(linear.stderr.contains(config) && linear.stderr.contains("'llava_base.mm_projector_type' is mlp2x_gelu but the base model has linear"),
                      linear.stderr)

        let trainables = adapter.appendingPathComponent("non_lora_trainables.safetensors")
        try FileManager.default.removeItem(at: trainables)
        let (missing, output) = try merge(["--model", Fixtures.url("llama/mha").path] + tower, adapter: adapter, out: "m3")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains(trainables.path) && missing.stderr.contains("not found"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "nothing written")
    }

    func testKilledRunResumesWithTheUninterruptedLosses() throws {
        let common = ["train", "finetune"] + base + [
            "--data", dir.appendingPathComponent("finetune.json").path, "--batch-size", "5", "--gradient-accumulation", "3",
            "--max-steps", "24", "--save-steps", "3", "--learning-rate", "2e-3", "--seed", "7"]
        let whole = try LLaVAExecutable.run(common + ["--output-dir", dir.appendingPathComponent("whole").path], timeout: 300)
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let expected = try losses("whole")
        XCTAssertEqual(expected.count, 24)

        let out = dir.appendingPathComponent("killed")
        let process = Process()
        process.executableURL = try LLaVAExecutable.url()
        process.arguments = common + ["--output-dir", out.path]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint-6").path) && Date() < deadline {
            usleep(2_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the run should have been killed mid-way")
        let partial = (try? losses("killed")) ?? []
        XCTAssertLessThan(partial.count, 24, "killed before the end")

        let resumed = try LLaVAExecutable.run(common + ["--output-dir", out.path, "--resume"], timeout: 300)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try losses("killed"), expected)
    }

    /// `--optimizer-moments bf16` reaches the optimizer (the checkpoint keeps BF16 moments), the
    /// run continued from its step-3 checkpoint repeats the uninterrupted losses, and resuming
    /// it with f32 moments, another batch size or another length grouping is refused by name.
    func testBF16MomentsRunResumesAndRefusesAnotherPrecision() throws {
        let common = ["train", "finetune"] + base + [
            "--data", dir.appendingPathComponent("finetune.json").path, "--batch-size", "5", "--max-steps", "6",
            "--save-steps", "3", "--save-total-limit", "2", "--learning-rate", "2e-3", "--seed", "7",
            "--optimizer-moments", "bf16"]
        let whole = dir.appendingPathComponent("whole"), part = dir.appendingPathComponent("part")
        let a = try LLaVAExecutable.run(common + ["--output-dir", whole.path], timeout: 300)
        XCTAssertEqual(a.status, 0, a.stderr)
        let moments = try SafeTensorsFile(url: whole.appendingPathComponent("checkpoint-6/optimizer.safetensors"))
        XCTAssertFalse(moments.tensorNames.isEmpty)
        for name in moments.tensorNames { XCTAssertEqual(try moments.tensor(name).dtype, .bf16, name) }

        try FileManager.default.createDirectory(at: part, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: whole.appendingPathComponent("checkpoint-3"),
                                         to: part.appendingPathComponent("checkpoint-3"))
        let f32 = try LLaVAExecutable.run(common.dropLast(2) + ["--output-dir", part.path, "--resume"], timeout: 300)
        XCTAssertNotEqual(f32.status, 0)
        XCTAssertTrue(f32.stderr.contains("--optimizer-moments bf16"), f32.stderr)
        // Another batch size or length grouping would not continue the saved run's batches.
        for (flag, value, saved) in [("--length-grouping", "2", "1"), ("--batch-size", "4", "5")] {
            var args = common + ["--output-dir", part.path, "--resume"]
            if let i = args.firstIndex(of: flag) { args[i + 1] = value } else { args += [flag, value] }
            let r = try LLaVAExecutable.run(args, timeout: 300)
            XCTAssertNotEqual(r.status, 0, flag)
            XCTAssertTrue(r.stderr.contains("\(flag) \(saved), not \(value)"), r.stderr)
        }
        let c = try LLaVAExecutable.run(common + ["--output-dir", part.path, "--resume"], timeout: 300)
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(try Self.losses(part), Array(try Self.losses(whole).suffix(3)))
    }
}
