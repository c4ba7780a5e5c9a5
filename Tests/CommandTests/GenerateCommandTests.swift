import Foundation
import TestSupport
import XCTest

/// `llava generate` and `llava tokenize` end to end, against transformers' outputs.
final class GenerateCommandTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable { let prompt: String; let input_ids: [Int]; let greedy_f32: [Int]; let greedy_f16: [Int] }
        let new_tokens: Int
        let cases: [Case]
    }
    struct Report: Decodable {
        struct Timings: Decodable { let prefill_tokens_per_second: Double; let decode_tokens_per_second: Double }
        let text: String
        let token_ids: [Int]
        let prompt_tokens: Int
        let timings: Timings
    }

    /// The README's first command: without --model, the built-in model describes the bundled
    /// example image (two red stars) correctly.
    func testBuiltInModelAnswersTheReadmeQuestion() throws {
        let r = try LLaVAExecutable.run(["generate", "--image", Fixtures.packageRoot.appendingPathComponent("examples/scene.png").path,
                                         "--prompt", "What shape are the red objects?"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let words = Set(r.stdout.lowercased().split { !$0.isLetter })
        XCTAssertTrue(words.contains("stars") && !words.contains(where: ["circles", "squares", "triangles", "crosses"].contains), r.stdout)
    }

    func testGreedyJSONTokensEqualTransformers() throws {
        for name in ["mha", "gqa"] {
            let ref: Reference = try Fixtures.json("llama/\(name).reference.json")
            for (dir, tag) in [(name, "f32"), (name + "-f16", "f16")] {
                let c = ref.cases[0]
                let r = try LLaVAExecutable.run(["generate", "--model", Fixtures.url("llama/\(dir)").path,
                                                 "--prompt", c.prompt, "--conv-mode", "raw",
                                                 "--max-new-tokens", "\(ref.new_tokens)", "--threads", "2", "--json"])
                XCTAssertEqual(r.status, 0, r.stderr)
                let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
                XCTAssertEqual(report.token_ids, tag == "f32" ? c.greedy_f32 : c.greedy_f16, "\(dir)")
                XCTAssertEqual(report.prompt_tokens, c.input_ids.count)
                XCTAssertGreaterThan(report.timings.decode_tokens_per_second, 0)
            }
        }
    }

    func testStreamedTextEqualsJSONText() throws {
        let dir = Fixtures.url("llama/mha").path
        let args = ["generate", "--model", dir, "--prompt", "The red circle", "--max-new-tokens", "20"]
        let streamed = try LLaVAExecutable.run(args)
        let json = try LLaVAExecutable.run(args + ["--json"])
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        let report = try JSONDecoder().decode(Report.self, from: Data(json.stdout.utf8))
        XCTAssertEqual(streamed.stdout, report.text + "\n")
    }

    func testTokenizePrintsReferenceIDs() throws {
        let ref: Reference = try Fixtures.json("llama/gqa.reference.json")
        let r = try LLaVAExecutable.run(["tokenize", "--model", Fixtures.url("llama/gqa").path,
                                         "--text", ref.cases[1].prompt, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        struct Out: Decodable { let ids: [Int]; let tokens: [String] }
        let out = try JSONDecoder().decode(Out.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(out.ids, ref.cases[1].input_ids)
        XCTAssertEqual(out.tokens.count, out.ids.count)
    }

    func testBadArgumentsFailWithAMessage() throws {
        let missing = try LLaVAExecutable.run(["generate", "--model", "/nonexistent/model", "--prompt", "hi"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/model"), missing.stderr)
        let badTemp = try LLaVAExecutable.run(["generate", "--model", Fixtures.url("llama/mha").path,
                                               "--prompt", "hi", "--temperature", "-1"])
        XCTAssertNotEqual(badTemp.status, 0)
        XCTAssertTrue(badTemp.stderr.contains("temperature"), badTemp.stderr)
    }
}
