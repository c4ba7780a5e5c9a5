import Foundation
import TestSupport
import XCTest

/// `llava generate` / `llava chat` with images, end to end, against transformers' greedy tokens,
/// and the errors a user can run into.
final class LLaVACommandTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable { let image: String; let greedy: [Int] }
        let prompt: String
        let new_tokens: Int
        let cases: [Case]
    }
    struct Report: Decodable { let text: String; let token_ids: [Int] }

    static let models: [(dir: String, ref: String, tower: String?)] = [
        ("hf-mlp2x-default", "hf-mlp2x-default", nil),
        ("hf-mlp2x-default-hub", "hf-mlp2x-default", nil),
        ("hf-mlp2x-full-last", "hf-mlp2x-full-last", nil),
        ("orig-mlp2x", "orig-mlp2x", "orig-mlp2x-clip"),
        ("orig-linear", "orig-linear", "orig-linear-clip"),
    ]

    func arguments(_ dir: String, tower: String?) -> [String] {
        ["--model", Fixtures.url("llava/\(dir)").path] + (tower.map { ["--vision-tower", Fixtures.url("llava/\($0)").path] } ?? [])
    }

    func testGreedyJSONTokensEqualTransformersForEveryModelAndImage() throws {
        for m in Self.models {
            let ref: Reference = try Fixtures.json("llava/\(m.ref).reference.json")
            for c in ref.cases {
                let r = try LLaVAExecutable.run(["generate"] + arguments(m.dir, tower: m.tower) + [
                    "--image", Fixtures.url("images/\(c.image)").path, "--conv-mode", "raw", "--prompt", ref.prompt,
                    "--max-new-tokens", "\(ref.new_tokens)", "--json"])
                XCTAssertEqual(r.status, 0, "\(m.dir) \(c.image): \(r.stderr)")
                guard r.status == 0 else { continue }
                let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
                XCTAssertEqual(report.token_ids, c.greedy, "\(m.dir) \(c.image)")
            }
        }
    }

    /// A temporary folder with a two-question synthetic-world file (a colour question on
    /// gray.png, an existence question on rgba.png).
    private func synthQuestionFile() throws -> (dir: URL, questions: URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let questions = dir.appendingPathComponent("q.jsonl")
        try Data(("""
            {"question_id": 0, "image": "gray.png", "text": "What color is the star?", "answer": "red", "type": "colour"}
            {"question_id": 1, "image": "rgba.png", "text": "Is there a red star in the image?", "answer": "no", "type": "existence"}
            """ + "\n").utf8).write(to: questions)
        return (dir, questions)
    }

    /// `eval synth --short-answer` asks each question with LLaVA-1.5's one-word instruction and
    /// scores every question; without it the question goes as written.
    func testSynthEvalShortAnswerAppendsTheInstruction() throws {
        let (dir, questions) = try synthQuestionFile()
        defer { try? FileManager.default.removeItem(at: dir) }
        for short in [true, false] {
            let answers = dir.appendingPathComponent("a\(short).jsonl")
            let r = try LLaVAExecutable.run(["eval", "synth"] + arguments("hf-mlp2x-default", tower: nil) + [
                "--question-file", questions.path, "--image-folder", Fixtures.url("images").path, "--answers-file", answers.path,
                "--max-new-tokens", "3", "--json"] + (short ? ["--short-answer"] : []))
            XCTAssertEqual(r.status, 0, r.stderr)
            let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String: [String: Int]]]
            XCTAssertEqual(report?["types"]?.values.map { $0["total"] ?? 0 }.reduce(0, +), 2, r.stdout)
            let prompts = try String(contentsOf: answers, encoding: .utf8).split(separator: "\n").map {
                (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["prompt"] as! String
            }
            XCTAssertEqual(prompts.count, 2)
            // The answers file records the question as asked (the reference's cur_prompt), without the template.
            for prompt in prompts {
                XCTAssertEqual(prompt.hasSuffix("?\nAnswer the question using a single word or phrase."), short, prompt)
            }
        }
    }

    /// `eval synth --scenes` adds the unbound baseline to the report; a question whose image has
    /// no scene in the file is refused before the model runs, naming the file and the image.
    func testSynthEvalScoresTheUnboundBaselineFromScenes() throws {
        let (dir, questions) = try synthQuestionFile()
        defer { try? FileManager.default.removeItem(at: dir) }
        let object = """
            {"shape": "star", "colour": "red", "size": "small", "radius": 5, "visibleFraction": 1,
             "centre": {"x": 10, "y": 10}, "box": {"x1": 5, "y1": 5, "x2": 15, "y2": 15}}
            """
        let scene = "{\"size\": 64, \"background\": \"grey\", \"textureSeed\": 1, \"objects\": [\(object)]}"
        let scenes = dir.appendingPathComponent("scenes_test.json"), partial = dir.appendingPathComponent("scenes_partial.json")
        try Data("{\"gray\": \(scene), \"rgba\": \(scene)}".utf8).write(to: scenes)
        try Data("{\"gray\": \(scene)}".utf8).write(to: partial)
        let common = ["eval", "synth"] + arguments("hf-mlp2x-default", tower: nil) + [
            "--question-file", questions.path, "--image-folder", Fixtures.url("images").path, "--max-new-tokens", "2"]
        let r = try LLaVAExecutable.run(common + ["--scenes", scenes.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String: [String: Int]]]
        XCTAssertEqual(report?["baseline"]?["colour"], ["correct": 1, "total": 1], r.stdout)
        XCTAssertEqual(report?["baseline"]?["existence"], ["correct": 1, "total": 1], r.stdout)
        let table = try LLaVAExecutable.run(common + ["--scenes", scenes.path])
        XCTAssertTrue(table.stdout.contains("| all |") && table.stdout.contains("| 100.0% |"), table.stdout)
        let missing = try LLaVAExecutable.run(common + ["--scenes", partial.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("scenes_partial.json has no scene for question 1's image rgba.png"), missing.stderr)
    }

    /// Relation questions are also counted by axis and answer, for the model and the baseline,
    /// and apart when they name an object whose shape another colour shares in the image.
    func testSynthEvalCountsRelationQuestionsByAxisAndAnswer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let questions = dir.appendingPathComponent("relations_test.jsonl")
        try Data(("""
            {"question_id": 0, "image": "gray.png", "text": "Is the red star to the left of the blue circle?", "answer": "yes", "type": "relation"}
            {"question_id": 1, "image": "gray.png", "text": "Is the red star to the right of the blue circle?", "answer": "no", "type": "relation"}
            {"question_id": 2, "image": "rgba.png", "text": "Is the red star above the blue circle?", "answer": "no", "type": "relation"}
            """ + "\n").utf8).write(to: questions)
        let objects = """
            {"shape": "star", "colour": "red", "size": "small", "radius": 5, "visibleFraction": 1,
             "centre": {"x": 10, "y": 40}, "box": {"x1": 5, "y1": 35, "x2": 15, "y2": 45}},
            {"shape": "circle", "colour": "blue", "size": "small", "radius": 5, "visibleFraction": 1,
             "centre": {"x": 54, "y": 10}, "box": {"x1": 49, "y1": 5, "x2": 59, "y2": 15}}
            """
        let scene = "{\"size\": 64, \"background\": \"grey\", \"textureSeed\": 1, \"objects\": [\(objects)]}"
        // rgba's scene has a green star too: its question names a star that the shape alone does not find.
        let greenStar = """
            {"shape": "star", "colour": "green", "size": "small", "radius": 5, "visibleFraction": 1,
             "centre": {"x": 54, "y": 54}, "box": {"x1": 49, "y1": 49, "x2": 59, "y2": 59}}
            """
        let sharedScene = "{\"size\": 64, \"background\": \"grey\", \"textureSeed\": 1, \"objects\": [\(objects), \(greenStar)]}"
        let scenes = dir.appendingPathComponent("scenes_test.json")
        try Data("{\"gray\": \(scene), \"rgba\": \(sharedScene)}".utf8).write(to: scenes)
        let common = ["eval", "synth"] + arguments("hf-mlp2x-default", tower: nil) + [
            "--question-file", questions.path, "--image-folder", Fixtures.url("images").path, "--max-new-tokens", "2",
            "--scenes", scenes.path]
        let r = try LLaVAExecutable.run(common + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String: [String: Int]]]
        XCTAssertEqual(report?["types"]?["relation"]?["total"], 3, r.stdout)
        XCTAssertEqual(report?["relations"]?.mapValues { $0["total"] ?? 0 }, ["horizontal yes": 1, "horizontal no": 1, "vertical no": 1], r.stdout)
        // The baseline answers every relation question with the set's most common answer, "no".
        XCTAssertEqual(report?["relationsBaseline"], ["horizontal yes": ["correct": 0, "total": 1], "horizontal no": ["correct": 1, "total": 1],
                                                     "vertical no": ["correct": 1, "total": 1]], r.stdout)
        XCTAssertEqual(report?["sharedShape"]?["relation"]?["total"], 1, r.stdout)
        XCTAssertEqual(report?["sharedShapeBaseline"], ["relation": ["correct": 1, "total": 1]], r.stdout)
        let table = try LLaVAExecutable.run(common)
        XCTAssertEqual(table.status, 0, table.stderr)
        for row in ["| horizontal yes |", "| horizontal no |", "| vertical no |"] { XCTAssertTrue(table.stdout.contains(row), table.stdout) }
        XCTAssertFalse(table.stdout.contains("| vertical yes |"), table.stdout)
        XCTAssertTrue(table.stdout.contains("| naming an object whose shape another colour shares |"), table.stdout)
    }

    /// `eval synth --task describe` scores one description per image of the question file;
    /// `--task follow-up` asks the scripted two-turn conversations (the second turn after the
    /// model's own first answer) and the direct questions, all kept in the answers file.
    func testSynthEvalDescribeAndFollowUpTasks() throws {
        let (dir, questions) = try synthQuestionFile()
        defer { try? FileManager.default.removeItem(at: dir) }
        let star = """
            {"shape": "star", "colour": "red", "size": "small", "radius": 5, "visibleFraction": 1,
             "centre": {"x": 10, "y": 32}, "box": {"x1": 5, "y1": 27, "x2": 15, "y2": 37}}
            """
        let scene = "{\"size\": 64, \"background\": \"grey\", \"textureSeed\": 1, \"objects\": [\(star)]}"
        let scenes = dir.appendingPathComponent("scenes_test.json")
        try Data("{\"gray\": \(scene), \"rgba\": \(scene)}".utf8).write(to: scenes)
        let common = ["eval", "synth"] + arguments("hf-mlp2x-default", tower: nil) + [
            "--question-file", questions.path, "--image-folder", Fixtures.url("images").path, "--max-new-tokens", "3",
            "--scenes", scenes.path, "--json"]
        let described = try LLaVAExecutable.run(common + ["--task", "describe"])
        XCTAssertEqual(described.status, 0, described.stderr)
        let d = try JSONSerialization.jsonObject(with: Data(described.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((d?["description"] as? [String: Any])?["images"] as? Int, 2, described.stdout)

        let answers = dir.appendingPathComponent("followup.jsonl")
        let followed = try LLaVAExecutable.run(common + ["--task", "follow-up", "--answers-file", answers.path])
        XCTAssertEqual(followed.status, 0, followed.stderr)
        let f = try JSONSerialization.jsonObject(with: Data(followed.stdout.utf8)) as? [String: Any]
        let rows = (f?["followUp"] as? [String: Any])?["rows"] as? [String: [String: Int]]
        XCTAssertEqual(rows?["colour"]?["total"], 2, followed.stdout)
        XCTAssertEqual(rows?["position"]?["total"], 2, followed.stdout)
        let ids = try String(contentsOf: answers, encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["question_id"] as! String
        }
        XCTAssertEqual(Set(ids), ["gray-colour/1", "gray-colour/direct", "gray-colour/2", "gray-position/1", "gray-position/direct",
                                  "gray-position/2", "rgba-colour/1", "rgba-colour/direct", "rgba-colour/2", "rgba-position/1",
                                  "rgba-position/direct", "rgba-position/2"])
        // --describe-after asks up to N of each image's questions first, one turn at a time: gray.png
        // has two questions, rgba.png one.
        let twoTurns = dir.appendingPathComponent("q2.jsonl")
        try Data((String(contentsOf: questions, encoding: .utf8)
            + #"{"question_id": 2, "image": "gray.png", "text": "How many stars are there?", "answer": "1", "type": "count"}"# + "\n").utf8)
            .write(to: twoTurns)
        let laterAnswers = dir.appendingPathComponent("later.jsonl")
        let later = try LLaVAExecutable.run(common.map { $0 == questions.path ? twoTurns.path : $0 }
                                            + ["--task", "describe", "--describe-after", "2", "--answers-file", laterAnswers.path])
        XCTAssertEqual(later.status, 0, later.stderr)
        let l = try JSONSerialization.jsonObject(with: Data(later.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((l?["description"] as? [String: Any])?["images"] as? Int, 2, later.stdout)
        let laterIDs = try String(contentsOf: laterAnswers, encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["question_id"] as! String
        }
        XCTAssertEqual(laterIDs.sorted(), ["describe-after-2/gray.png", "describe-after-2/gray.png/1", "describe-after-2/gray.png/2",
                                           "describe-after-2/rgba.png", "describe-after-2/rgba.png/1"])
        // Run again on the complete files, with the last turns' answers edited: nothing is asked
        // again (the first turns' runs keep the later answers), so the edits are what is scored and kept.
        let edited = "A small red star is on the left."
        for file in [laterAnswers, answers] {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map { line -> String in
                var record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                let id = record["question_id"] as! String
                if id.hasSuffix(".png") || id.hasSuffix("/2") { record["text"] = edited }
                return String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self)
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        }
        let resumed = try LLaVAExecutable.run(common.map { $0 == questions.path ? twoTurns.path : $0 }
                                              + ["--task", "describe", "--describe-after", "2", "--answers-file", laterAnswers.path])
        let r = try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((r?["description"] as? [String: Any])?["f1"] as? Double, 1, resumed.stdout)
        _ = try LLaVAExecutable.run(common + ["--task", "follow-up", "--answers-file", answers.path])
        for file in [laterAnswers, answers] {
            let texts = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
                (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["text"] as! String
            }
            XCTAssertEqual(texts.count, file == answers ? 12 : 5)
            XCTAssertEqual(texts.filter { $0 == edited }.count, file == answers ? 4 : 3, file.lastPathComponent)
        }
        let misused = try LLaVAExecutable.run(common + ["--describe-after", "1"])
        XCTAssertNotEqual(misused.status, 0)
        XCTAssertTrue(misused.stderr.contains("--describe-after needs --task describe"), misused.stderr)
        let negative = try LLaVAExecutable.run(common + ["--task", "describe", "--describe-after=-1"])
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.stderr.contains("--describe-after must be 0 or more, got -1"), negative.stderr)
        let zero = try LLaVAExecutable.run(common.map { $0 == "3" ? "0" : $0 } + ["--task", "describe"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("--max-new-tokens must be at least 1, got 0"), zero.stderr)
        let missing = try LLaVAExecutable.run(Array(common.dropLast(3)) + ["--json", "--task", "describe"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("--task describe needs --scenes"), missing.stderr)
    }

    /// With a template, the question alone is wrapped as the reference CLI wraps it.
    func testTemplateModeEqualsTheRenderedRawPrompt() throws {
        let model = arguments("orig-mlp2x", tower: "orig-mlp2x-clip")
        let image = ["--image", Fixtures.url("images/gray.png").path, "--max-new-tokens", "12", "--json"]
        let templated = try LLaVAExecutable.run(["generate"] + model + image + ["--conv-mode", "llava_v1", "--prompt", "What is in the image?"])
        let raw = try LLaVAExecutable.run(["generate"] + model + image + ["--conv-mode", "raw", "--prompt",
            "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions. USER: <image>\nWhat is in the image? ASSISTANT:"])
        XCTAssertEqual(templated.status, 0, templated.stderr)
        XCTAssertEqual(raw.status, 0, raw.stderr)
        let a = try JSONDecoder().decode(Report.self, from: Data(templated.stdout.utf8))
        let b = try JSONDecoder().decode(Report.self, from: Data(raw.stdout.utf8))
        XCTAssertEqual(a.token_ids, b.token_ids)
        XCTAssertEqual(a.token_ids.count, 12)
    }

    func expectFailure(_ args: [String], mentioning needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try LLaVAExecutable.run(args)
        XCTAssertNotEqual(r.status, 0, "expected failure: \(args)", file: file, line: line)
        for n in needles {
            XCTAssertTrue(r.stderr.contains(n), "stderr should mention \(n): \(r.stderr)", file: file, line: line)
        }
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
    }

    func testBadImagesFailWithTheirName() throws {
        let model = arguments("hf-mlp2x-default", tower: nil)
        for bad in ["truncated.png", "truncated.jpg", "empty.png", "text.png", "huge_header.png"] {
            let path = Fixtures.url("images/\(bad)").path
            try expectFailure(["generate"] + model + ["--image", path, "--prompt", "hi"], mentioning: [bad])
        }
        try expectFailure(["generate"] + model + ["--image", "/nonexistent/cat.png", "--prompt", "hi"], mentioning: ["/nonexistent/cat.png"])
        // the limit is configurable: a 500×333 photo is refused under 0.1 megapixels
        try expectFailure(["generate"] + model + ["--image", Fixtures.url("images/photo_500x333.jpg").path, "--prompt", "hi",
                                                  "--max-image-megapixels", "0.1"], mentioning: ["photo_500x333.jpg", "500"])
    }

    func testMissingVisionTowerIsExplained() throws {
        try expectFailure(["generate", "--model", Fixtures.url("llava/orig-linear").path, "--prompt", "hi"],
                          mentioning: ["--vision-tower"])
    }

    /// A llava-hf checkpoint holds its tower: another one given with --vision-tower is refused
    /// by name, in inference and in training, not silently left unused.
    func testVisionTowerForALlavaHFCheckpointIsRefused() throws {
        let model = Fixtures.url("llava/hf-mlp2x-default").path, tower = Fixtures.url("llava/orig-mlp2x-clip").path
        try expectFailure(["generate", "--model", model, "--vision-tower", tower, "--prompt", "hi"],
                          mentioning: ["--vision-tower", tower, model])
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("llava-tower-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let data = out.appendingPathComponent("data.json")
        try Data(#"[{"id": "a", "conversations": [{"from": "human", "value": "Hi."}, {"from": "gpt", "value": "hello"}]}]"#.utf8).write(to: data)
        try expectFailure(["train", "finetune", "--model-name-or-path", model, "--vision-tower", tower, "--data", data.path,
                           "--output-dir", out.appendingPathComponent("run").path, "--max-steps", "1", "--quiet"],
                          mentioning: ["--vision-tower", tower, model])
    }

    /// The reference's LLaVA-1.5 checkpoints say model_type "llava" (as llava-hf does) with
    /// LlavaLlamaForCausalLM; `generate` reads them as the original layout they are.
    func testOriginalConfigSpelledLlavaGenerates() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-v15-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("orig-mlp2x")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("llava/orig-mlp2x"), to: model)
        let configURL = model.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        config["model_type"] = "llava"
        config["architectures"] = ["LlavaLlamaForCausalLM"]
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let ref: Reference = try Fixtures.json("llava/orig-mlp2x.reference.json")
        let r = try LLaVAExecutable.run(["generate", "--model", model.path, "--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path,
                                         "--image", Fixtures.url("images/\(ref.cases[0].image)").path, "--conv-mode", "raw",
                                         "--prompt", ref.prompt, "--max-new-tokens", "\(ref.new_tokens)", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard r.status == 0 else { return }
        XCTAssertEqual(try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8)).token_ids, ref.cases[0].greedy)
        config["model_type"] = "llava_mpt"
        config["architectures"] = ["LlavaMPTForCausalLM"]
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        try expectFailure(["generate", "--model", model.path, "--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path,
                           "--prompt", "hi"], mentioning: [configURL.path, "llava_mpt", "LlavaMPTForCausalLM"])
    }

    func testMoreImageTagsThanImagesNamesBothNumbers() throws {
        try expectFailure(["generate"] + arguments("hf-mlp2x-default", tower: nil) + [
            "--image", Fixtures.url("images/gray.png").path, "--conv-mode", "raw", "--prompt", "<image> and <image>?"],
                          mentioning: ["2 <image>", "1 image"])
        try expectFailure(["generate"] + arguments("orig-linear", tower: "orig-linear-clip") + [
            "--conv-mode", "raw", "--prompt", "<image>\nWhat?"], mentioning: ["1 <image>", "0 image"])
    }

    func testImagesOnATextOnlyModelAreRefused() throws {
        try expectFailure(["generate", "--model", Fixtures.url("llama/mha").path, "--image",
                           Fixtures.url("images/gray.png").path, "--prompt", "hi"], mentioning: ["vision"])
    }

    func testChatCarriesTheConversation() throws {
        let input = "What is in the image?\n/image \(Fixtures.url("images/gray.png").path)\nAnd this one?\n/reset\nHello\n/exit\n"
        let r = try LLaVAExecutable.run(["chat"] + arguments("hf-mlp2x-default", tower: nil) + [
            "--image", Fixtures.url("images/photo_500x333.jpg").path, "--max-new-tokens", "6"], stdin: input)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.components(separatedBy: "ASSISTANT: ").count - 1, 3, r.stdout)
        XCTAssertTrue(r.stderr.contains("conversation reset"), r.stderr)
    }
}
