import CKernels
import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest

/// `llava convert` re-types a safetensors directory, and turns llama.cpp's GGUF files back into a
/// Hugging Face directory: one that answers as the GGUF files do (greedy tokens exactly), whose
/// tensors are the GGUF's dequantised values (f32) under HF's names with the Q/K rows back in
/// HF's order, and whose tokenizer encodes as the GGUF's.
final class ConvertCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-convert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func run(_ arguments: [String]) throws -> CommandResult {
        let r = try LLaVAExecutable.run(arguments)
        XCTAssertEqual(r.status, 0, "\(arguments.joined(separator: " ")): \(r.stderr)")
        return r
    }

    func json(_ r: CommandResult) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    /// `llava generate` with an image (or without, for a bare LLM): its token ids.
    func greedy(_ model: [String], image: Bool = true) throws -> [Int] {
        let picture = image ? ["--image", Fixtures.url("images/photo_500x333.jpg").path] : []
        let r = try run(["generate", "--prompt", "What is shown here?", "--max-new-tokens", "12", "--json"] + picture + model)
        return try XCTUnwrap(json(r)["token_ids"] as? [Int], r.stdout)
    }

    func tokenIDs(_ model: String, _ text: String) throws -> [Int] {
        try XCTUnwrap(json(run(["tokenize", "--model", model, "--text", text, "--json"]))["ids"] as? [Int])
    }

    static let texts = ["Hello world", "What is shown here?", "  two  spaces, naïve café 42", "A red star.\nA blue circle!"]

    /// HF name → (GGUF name, heads whose rotary rows llama.cpp interleaves) for LLaVA: the test's
    /// own table, written from llama.cpp's converters, not from the code under test.
    static func llavaNames(_ llm: GGUFFile, _ mmproj: GGUFFile) throws -> [String: (String, Int?)] {
        let layers = try XCTUnwrap(llm.metadata["llama.block_count"]?.int), towerLayers = try XCTUnwrap(mmproj.metadata["clip.vision.block_count"]?.int)
        let heads = try XCTUnwrap(llm.metadata["llama.attention.head_count"]?.int)
        let kvHeads = llm.metadata["llama.attention.head_count_kv"]?.int ?? heads
        var map: [String: (String, Int?)] = [
            "language_model.model.embed_tokens.weight": ("token_embd.weight", nil),
            "language_model.model.norm.weight": ("output_norm.weight", nil),
            "language_model.lm_head.weight": ("output.weight", nil),
            "multi_modal_projector.linear_1.weight": ("mm.0.weight", nil), "multi_modal_projector.linear_1.bias": ("mm.0.bias", nil),
            "multi_modal_projector.linear_2.weight": ("mm.2.weight", nil), "multi_modal_projector.linear_2.bias": ("mm.2.bias", nil),
            "vision_tower.vision_model.embeddings.class_embedding": ("v.class_embd", nil),
            "vision_tower.vision_model.embeddings.patch_embedding.weight": ("v.patch_embd.weight", nil),
            "vision_tower.vision_model.embeddings.position_embedding.weight": ("v.position_embd.weight", nil),
            "vision_tower.vision_model.pre_layrnorm.weight": ("v.pre_ln.weight", nil),
            "vision_tower.vision_model.pre_layrnorm.bias": ("v.pre_ln.bias", nil),
        ]
        for i in 0..<layers {
            let hf = "language_model.model.layers.\(i).", g = "blk.\(i)."
            for (a, b) in [("input_layernorm", "attn_norm"), ("post_attention_layernorm", "ffn_norm"), ("self_attn.v_proj", "attn_v"),
                           ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"),
                           ("mlp.down_proj", "ffn_down")] {
                map[hf + a + ".weight"] = (g + b + ".weight", nil)
            }
            map[hf + "self_attn.q_proj.weight"] = (g + "attn_q.weight", heads)
            map[hf + "self_attn.k_proj.weight"] = (g + "attn_k.weight", kvHeads)
        }
        for i in 0..<towerLayers {
            let hf = "vision_tower.vision_model.encoder.layers.\(i).", g = "v.blk.\(i)."
            for (a, b) in [("layer_norm1", "ln1"), ("layer_norm2", "ln2"), ("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"),
                           ("self_attn.v_proj", "attn_v"), ("self_attn.out_proj", "attn_out"), ("mlp.fc1", "ffn_down"),
                           ("mlp.fc2", "ffn_up")] {
                map[hf + a + ".weight"] = (g + b + ".weight", nil)
                map[hf + a + ".bias"] = (g + b + ".bias", nil)
            }
        }
        return map
    }

    /// Every GGUF tensor, dequantised (and its rows reordered for Q/K), equals its HF tensor bit
    /// for bit; rows the conversion added (`<image>`) are left out of the comparison.
    func assertTensorsEqual(_ hf: SafeTensorsFile, _ files: [GGUFFile], names: [String: (String, Int?)]) throws {
        var matched = Set<String>()
        for (hfName, (ggufName, heads)) in names.sorted(by: { $0.key < $1.key }) {
            guard let file = files.first(where: { $0.info(ggufName) != nil }) else { XCTFail("no \(ggufName)"); continue }
            var expected = try file.dequantized(ggufName)
            if let heads { expected = deinterleaveHeads(expected, heads: heads) }
            let actual = try hf.tensor(hfName)
            XCTAssertEqual(actual.dtype, .f32, hfName)
            XCTAssertEqual(Array(actual.shape.dropFirst()), Array(expected.shape.dropFirst()), hfName)
            let a = actual.toFloatArray().prefix(expected.count), e = expected.toFloatArray()
            XCTAssertEqual(a.map(\.bitPattern), e.map(\.bitPattern), "\(hfName) ≠ \(ggufName)")
            matched.insert(ggufName)
        }
        for file in files {
            XCTAssertEqual(Set(file.tensorNames).subtracting(matched), [], "\(file.url.lastPathComponent): tensors not converted")
        }
    }

    func testGGUFPairBecomesALlavaHFDirectoryThatAnswersTheSame() throws {
        let llm = Fixtures.url("gguf/llava-llm-f32.gguf"), mmproj = Fixtures.url("gguf/llava-mmproj-f32.gguf")
        let out = dir.appendingPathComponent("hf")
        _ = try run(["convert", "--model", llm.path, "--mmproj", mmproj.path, "--output", out.path, "--dtype", "f32"])
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        XCTAssertEqual(files, ["config.json", "generation_config.json", "model.safetensors", "preprocessor_config.json",
                               "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"])
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(config["architectures"] as? [String], ["LlavaForConditionalGeneration"])
        XCTAssertEqual(config["vision_feature_layer"] as? Int, -1, "the mmproj's tower ends at LLaVA's layer -2")

        let ggufRun = ["--model", llm.path, "--mmproj", mmproj.path]
        XCTAssertEqual(try greedy(["--model", out.path]), try greedy(ggufRun))
        XCTAssertEqual(try greedy(["--model", out.path, "--conv-mode", "llava_v1"]), try greedy(ggufRun + ["--conv-mode", "llava_v1"]))

        let ggufs = [try GGUFFile(url: llm), try GGUFFile(url: mmproj)]
        try assertTensorsEqual(SafeTensorsFile(url: out.appendingPathComponent("model.safetensors")), ggufs,
                               names: Self.llavaNames(ggufs[0], ggufs[1]))
        for text in Self.texts { XCTAssertEqual(try tokenIDs(out.path, text), try tokenIDs(llm.path, text), text) }
    }

    /// The prompt's last logits (`--logits-out`) and the first greedy token.
    func prefill(_ model: [String]) throws -> (logits: [Float], first: Int?) {
        let file = dir.appendingPathComponent("logits-\(UUID().uuidString).safetensors")
        let ids = try greedy(model + ["--logits-out", file.path])
        return (try SafeTensorsFile(url: file).tensor("logits").toFloatArray(), ids.first)
    }

    /// llava-hf → `quantize --type f32` → `convert --dtype f32` gives back the original tensors
    /// bit for bit, but for what the mmproj format drops: the tower's last layer and its
    /// post-layernorm (LLaVA-1.5 reads layer -2, before both; the converted post-layernorm is
    /// the identity).
    func testF32RoundTripGivesBackTheLlavaHFWeights() throws {
        let source = Fixtures.url("llava/hf-mlp2x-default")
        let gguf = dir.appendingPathComponent("f32"), out = dir.appendingPathComponent("f32-hf")
        _ = try run(["quantize", "--model", source.path, "--type", "f32", "--output", gguf.path])
        _ = try run(["convert", "--model", gguf.path, "--output", out.path, "--dtype", "f32"])
        let original = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        let converted = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any])
        let towerLayers = try XCTUnwrap((config["vision_config"] as? [String: Any])?["num_hidden_layers"] as? Int)
        // The fixture names the tower as transformers 5.23 saves it (`vision_tower.`); the
        // export writes the classic llava-hf names (`vision_tower.vision_model.`), which it loads too.
        func exported(_ name: String) -> String {
            name.hasPrefix("vision_tower.") ? "vision_tower.vision_model." + name.dropFirst("vision_tower.".count) : name
        }
        let dropped = Set(original.tensorNames.filter { $0.contains("encoder.layers.\(towerLayers - 1).") || $0.contains("post_layernorm") })
        XCTAssertEqual(dropped.count, 18)
        let identity = dropped.filter { $0.contains("post_layernorm") }
        XCTAssertEqual(Set(converted.tensorNames), Set(original.tensorNames.filter { !dropped.contains($0) || identity.contains($0) }.map(exported)))
        for name in original.tensorNames where !dropped.contains(name) {
            XCTAssertEqual(try converted.tensor(exported(name)).toFloatArray().map(\.bitPattern),
                           try original.tensor(name).toFloatArray().map(\.bitPattern), name)
        }
    }

    /// Q8_0 and Q4_0 pairs (written by `llava quantize`) convert to the values their blocks hold
    /// (bit for bit), and the converted model reads the prompt as the quantised one does: the
    /// same first token, logits within 1% of their largest. Not closer and not every token: each
    /// one-row mat-vec on blocks (decode steps, and the prompt's last row through `output`)
    /// rounds its activations to Q8_0 for llama.cpp's integer dot products, about 1/127 of a
    /// block's largest value, which on this tiny random model's flat logits changes later tokens.
    /// (The bare-LLM fixtures below keep every token: see the text-only test.) Q4_0 rows
    /// interleaved for this CPU round every row of the prompt so, in every block (the integer
    /// GEMM computes what decode does): within 3% there (measured 1.7%).
    func testQuantizedGGUFPairsConvertAndReadThePromptTheSame() throws {
        for type in ["q8_0", "q4_0"] {
            let gguf = dir.appendingPathComponent(type), out = dir.appendingPathComponent("\(type)-hf")
            _ = try run(["quantize", "--model", Fixtures.url("llava/hf-mlp2x-default").path, "--type", type, "--output", gguf.path])
            _ = try run(["convert", "--model", gguf.path, "--output", out.path, "--dtype", "f32"])
            let a = try prefill(["--model", out.path]), b = try prefill(["--model", gguf.path])
            XCTAssertEqual(a.first, b.first, type)
            XCTAssertEqual(a.logits.count, b.logits.count, type)
            let largest = b.logits.map(abs).max() ?? 0
            let wholePrompt = type == "q4_0" && lk_prefers_q4_0x8() != 0
            XCTAssertLessThan(maxAbsDifference(a.logits, b.logits), (wholePrompt ? 0.03 : 0.01) * largest,
                              "\(type): \(differenceReport(a.logits, b.logits))")
            let file = try GGUFFile(url: gguf.appendingPathComponent("model-\(type).gguf"))
            XCTAssertEqual(file.info("blk.0.attn_q.weight")?.type.description.lowercased(), type)
            let mmproj = try GGUFFile(url: gguf.appendingPathComponent("mmproj-f16.gguf"))
            try assertTensorsEqual(SafeTensorsFile(url: out.appendingPathComponent("model.safetensors")), [file, mmproj],
                                   names: Self.llavaNames(file, mmproj))
        }
    }

    /// A bare GGUF LLM becomes a LlamaForCausalLM directory equal to the `gguf` package's own
    /// dequantisation of the file (the fixture's twin), and generates as the GGUF does.
    func testTextGGUFBecomesALlamaDirectoryEqualToTheReferenceDequantization() throws {
        for type in ["f16", "q8_0", "q4_0"] {
            let gguf = Fixtures.url("gguf/llama-\(type).gguf"), out = dir.appendingPathComponent(type)
            _ = try run(["convert", "--model", gguf.path, "--output", out.path, "--dtype", "f32"])
            let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
            XCTAssertEqual(config["architectures"] as? [String], ["LlamaForCausalLM"])
            let ours = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
            let reference = try Fixtures.tensors("gguf/llama-\(type)-dequantized/model.safetensors")
            XCTAssertEqual(Set(ours.tensorNames).subtracting(["lm_head.weight"]), Set(reference.tensorNames).subtracting(["lm_head.weight"]))
            for name in reference.tensorNames {
                XCTAssertEqual(try ours.tensor(name).toFloatArray().map(\.bitPattern),
                               try reference.tensor(name).toFloatArray().map(\.bitPattern), "\(type) \(name)")
            }
            // The quantised files' own f16 cache (`--cache-type auto`) rounds keys and values; with the
            // converted directory's f32 cache both compute on the same weights the same way.
            XCTAssertEqual(try greedy(["--model", out.path], image: false),
                           try greedy(["--model", gguf.path, "--cache-type", "f32"], image: false), type)
            for text in Self.texts { XCTAssertEqual(try tokenIDs(out.path, text), try tokenIDs(gguf.path, text), text) }
        }
    }

    /// `--dtype f16` stores every weight as F16 and says so in config.json.
    func testDTypeChoosesTheStorage() throws {
        let out = dir.appendingPathComponent("f16")
        _ = try run(["convert", "--model", Fixtures.url("gguf/llama-q8_0.gguf").path, "--output", out.path, "--dtype", "f16"])
        let file = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(try file.tensorNames.map { try file.tensor($0).dtype }), [.f16])
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(config["torch_dtype"] as? String, "float16")
    }

    /// A safetensors directory is copied with every weight re-typed, value for value, and its
    /// other files alongside.
    func testSafetensorsDirectoryIsRetyped() throws {
        let source = Fixtures.url("llama/mha"), out = dir.appendingPathComponent("bf16")
        _ = try run(["convert", "--model", source.path, "--output", out.path, "--dtype", "bf16"])
        let original = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        let copy = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(copy.tensorNames, original.tensorNames)
        for name in original.tensorNames {
            let t = try copy.tensor(name)
            XCTAssertEqual(t.dtype, .bf16, name)
            XCTAssertEqual(t.toFloatArray(), try original.tensor(name).converted(to: .bf16).toFloatArray(), name)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(),
                       try FileManager.default.contentsOfDirectory(atPath: source.path).sorted())
        XCTAssertEqual(try greedy(["--model", out.path], image: false).count, 12)
    }

    func testBadInputIsRefusedWithTheFileNamed() throws {
        let good = try Data(contentsOf: Fixtures.url("gguf/llama-q4_0.gguf"))
        let notGGUF = dir.appendingPathComponent("notgguf.gguf"), truncated = dir.appendingPathComponent("truncated.gguf")
        try Data("hello".utf8).write(to: notGGUF)
        try good.prefix(good.count / 2).write(to: truncated)
        let llm = Fixtures.url("gguf/llava-llm-f32.gguf").path
        let cases: [([String], [String])] = [
            (["--model", notGGUF.path], ["notgguf.gguf", "not a GGUF file"]),
            (["--model", truncated.path], ["truncated.gguf"]),
            (["--model", llm, "--mmproj", Fixtures.url("gguf/llama-q4_0.gguf").path], ["llama-q4_0.gguf", "not a CLIP vision tower"]),
            (["--model", llm, "--mmproj", notGGUF.path], ["notgguf.gguf", "not a GGUF file"]),
        ]
        for (arguments, needles) in cases {
            let out = dir.appendingPathComponent("out-\(UUID().uuidString)")
            let r = try LLaVAExecutable.run(["convert"] + arguments + ["--output", out.path])
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            for needle in needles { XCTAssertTrue(r.stderr.contains(needle), "\(arguments): \(r.stderr)") }
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(arguments): output written")
        }
        // A valid pair llava-hf cannot hold (a linear projector) fails whole: no directory is left.
        let linear = dir.appendingPathComponent("linear")
        _ = try run(["quantize", "--model", Fixtures.url("llava/orig-linear").path, "--vision-tower",
                     Fixtures.url("llava/orig-linear-clip").path, "--type", "f16", "--output", linear.path])
        let refused = try LLaVAExecutable.run(["convert", "--model", linear.path, "--output", dir.appendingPathComponent("linear-hf").path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("2-layer projector"), refused.stderr)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.hasPrefix(".linear-hf") || $0 == "linear-hf" })
        // An output that already holds files is not written into.
        let full = try LLaVAExecutable.run(["convert", "--model", Fixtures.url("gguf/llama-q4_0.gguf").path, "--output", linear.path])
        XCTAssertNotEqual(full.status, 0)
        XCTAssertTrue(full.stderr.contains("not empty"), full.stderr)

        let folder = dir.appendingPathComponent("pair")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("gguf/llama-q4_0.gguf"), to: folder.appendingPathComponent("model.gguf"))
        let same = try LLaVAExecutable.run(["convert", "--model", folder.path, "--output", folder.path])
        XCTAssertNotEqual(same.status, 0)
        XCTAssertTrue(same.stderr.contains("--output"), same.stderr)
    }
}
