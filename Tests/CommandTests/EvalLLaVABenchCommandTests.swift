import Foundation
import ScriptedOpenAIServer
import TestSupport
import XCTest

/// `llava eval llava-bench` end to end: the in-the-wild layout written by the test, the model
/// answering, and a judge behind an OpenAI-compatible API on 127.0.0.1.
final class EvalLLaVABenchCommandTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-eval-llavabench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
        for name in ["gray.png", "rgba.png"] {
            try FileManager.default.copyItem(at: Fixtures.url("images/\(name)"), to: dir.appendingPathComponent("images/\(name)"))
        }
        var questions = "", answers = ""
        for (i, (image, category)) in [("gray.png", "conv"), ("rgba.png", "detail"), ("gray.png", "complex"), ("rgba.png", "conv")].enumerated() {
            questions += "{\"question_id\": \(i), \"image\": \"\(image)\", \"text\": \"Question \(i) about the image?\", \"category\": \"\(category)\"}\n"
            answers += "{\"question_id\": \(i), \"text\": \"Reference answer \(i).\", \"answer_id\": \"gpt4-\(i)\", \"model_id\": \"gpt-4-0314\"}\n"
        }
        try Data(questions.utf8).write(to: url("questions.jsonl"))
        try Data(answers.utf8).write(to: url("answers_gpt4.jsonl"))
        try Data("{\"id\": \"g\", \"image\": \"gray.png\", \"caption\": \"A gray picture.\"}\n{\"id\": \"r\", \"image\": \"rgba.png\", \"caption\": \"A see-through picture.\"}\n".utf8)
            .write(to: url("context.jsonl"))
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func url(_ name: String) -> URL { dir.appendingPathComponent(name) }

    func arguments(judge: String, model: String = "judge") -> [String] {
        ["eval", "llava-bench", "--question-file", url("questions.jsonl").path, "--context-file", url("context.jsonl").path,
         "--reference-file", url("answers_gpt4.jsonl").path, "--image-folder", url("images").path,
         "--model", Fixtures.url("llava/hf-mlp2x-default").path, "--max-new-tokens", "4", "--results-dir", url("results").path,
         "--judge-url", judge, "--judge-model", model, "--review-attempts", "2", "--judge-parallel", "2"]
    }

    func reviews() throws -> [[String: Any]] {
        try String(contentsOf: url("results/llava-bench.reviews.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// `llava serve` (a tiny random model) as the judge: its replies never start with two
    /// scores, so each review is asked twice and then counted as unparsable. The tiny judge's
    /// context is 256 positions, so a short rule file (rule.json's format) replaces LLaVA's rules.
    func testWithLLaVAServeAsTheJudgeUnparsableReviewsAreRetriedAndCounted() throws {
        let rule = "{\"role\": \"Assistant\", \"prompt\": \"Rate both 1-10.\"}"
        try Data("{\"llava_bench_conv\": \(rule), \"llava_bench_detail\": \(rule), \"llava_bench_complex\": \(rule)}".utf8).write(to: url("rule.json"))
        let server = try ServerProcess.start(["--model", Fixtures.url("llava/hf-mlp2x-default").path, "--model-id", "judge", "--parallel", "2"])
        defer { server.kill() }
        let r = try LLaVAExecutable.run(arguments(judge: server.baseURL + "/v1") + ["--judge-max-tokens", "6", "--judge-temperature", "0",
                                                                                  "--rules", url("rule.json").path], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        guard r.status == 0 else { return }
        XCTAssertTrue(r.stdout.contains("unparsable reviews (after 2 attempts each, averaged in as [-1, -1]): 4"), r.stdout)
        let all = try reviews()
        XCTAssertEqual(all.map { $0["question_id"] as? String }, ["0", "1", "2", "3"])
        XCTAssertEqual(all.map { $0["attempts"] as? Int }, [2, 2, 2, 2])
        XCTAssertEqual(all[0]["category"] as? String, "llava_bench_conv")
        XCTAssertEqual(all[0]["answer1_id"] as? String, "gpt4-0")
        XCTAssertTrue(r.stderr.contains("review 1/2 has no two scores"), r.stderr)
        let result = try JSONSerialization.jsonObject(with: Data(contentsOf: url("results/llava-bench.json"))) as! [String: Any]
        XCTAssertEqual((result["counts"] as! [String: Int])["unparsable reviews"], 4)
        // Every tuple is [-1, -1]: both means are -1, so the relative score is 100 (as the reference computes it).
        XCTAssertEqual((result["metrics"] as! [String: Double])["overall"], 100)
    }

    /// A run killed while the judge is slow keeps the reviews written so far; the next run
    /// asks only for the rest and scores them all; malformed first replies are retried.
    func testAKilledRunResumesAndMalformedReviewsAreRetried() async throws {
        let server = try await ScriptedOpenAIServer { request, _ in
            let user = request.chat?.messages.last?.content ?? ""
            let slow: Duration = user.contains("Question 0") ? .zero : .seconds(30)
            if user.contains("Question 0") { return .chat("9 6\nThe reference is better.") }
            if user.contains("Question 1") && !EvalLLaVABenchCommandTests.secondAsked.set() { return .chat("Score: high") }
            return .chat("8 4\nFine.", delay: slow)
        }
        let args = arguments(judge: server.baseURL)
        let first = try LLaVAExecutable.launch(args, stderr: url("first.log"))
        // Wait for the fast review to land, then kill the run mid-way.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, (try? reviews().count) ?? 0 < 1 { try await Task.sleep(nanoseconds: 50_000_000) }
        XCTAssertEqual(try reviews().count, 1)
        first.terminate()
        first.waitUntilExit()
        let askedBefore = server.requests.filter { $0.chat?.messages.last?.content.contains("Question 0") == true }.count
        XCTAssertEqual(askedBefore, 1)
        // The rest now answer at once.
        await server.stop()
        let fast = try await ScriptedOpenAIServer(port: server.port) { request, _ in
            let user = request.chat?.messages.last?.content ?? ""
            if user.contains("Question 1") && !EvalLLaVABenchCommandTests.thirdAsked.set() { return .chat("Score: high") }
            return .chat("8 4\nFine.")
        }
        let r = try LLaVAExecutable.run(args, timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        guard r.status == 0 else { return }
        XCTAssertEqual(fast.requests.filter { $0.chat?.messages.last?.content.contains("Question 0") == true }.count, 0)
        XCTAssertEqual(fast.requests.count, 4)   // questions 1–3, question 1 twice
        let all = try reviews()
        XCTAssertEqual(all.map { $0["tuple"] as? [Double] }, [[9, 6], [8, 4], [8, 4], [8, 4]])
        XCTAssertEqual(all[1]["attempts"] as? Int, 2)
        XCTAssertTrue(r.stdout.contains("| all | 54.5 |"), r.stdout)   // mean 4.5 / mean 8.25 × 100
        await fast.stop()
    }
    static let secondAsked = Flag(), thirdAsked = Flag()
}

/// Set once; `set()` says whether it already was.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() -> Bool { lock.lock(); defer { lock.unlock() }; let was = value; value = true; return was }
}
