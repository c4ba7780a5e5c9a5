import DataGeneration
import Evaluation
import Foundation
import OpenAIClient
import ScriptedOpenAIServer
import TestSupport
import XCTest

/// The judge-driven parts against a scripted OpenAI-compatible endpoint (deterministic replies).
final class JudgeTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-judge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func judge(_ server: ScriptedOpenAIServer) throws -> (TeacherJudge, ChatCompletionsClient) {
        let client = try ChatCompletionsClient(configuration: .init(baseURL: server.baseURL, retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10))))
        return (TeacherJudge(OpenAITeacher(client: client, model: "judge", temperature: 0)), client)
    }

    func benchQuestions() -> ([LLaVABench.Question], [String: (text: String, id: String)], [String: EvaluationAnswer]) {
        let qs = ["conv", "detail", "complex"].enumerated().map { i, c in
            LLaVABench.Question(questionID: "\(i)", image: "a.jpg", text: "Q\(i) \(c)?", ruleKey: "llava_bench_\(c)", context: "A cat on a mat.")
        }
        var refs: [String: (text: String, id: String)] = [:]
        var answers: [String: EvaluationAnswer] = [:]
        for q in qs {
            refs[q.questionID] = ("reference \(q.questionID)", "r\(q.questionID)")
            answers[q.questionID] = EvaluationAnswer(questionID: q.questionID, prompt: q.text, text: "model \(q.questionID)", answerID: "m\(q.questionID)", modelID: "m", metadata: [:])
        }
        return (qs, refs, answers)
    }

    /// The review request is the reference's; a reply without two scores is retried; one that
    /// never has them is counted as unparsable and averaged in as [-1, -1]; a second run asks nothing again.
    func testReviewsAreRetriedCountedAndResumed() async throws {
        let server = try await ScriptedOpenAIServer { request, _ in
            let user = request.chat?.messages.last?.content ?? ""
            if user.contains("Q0 conv") { return .chat("8 6\nThe second answer misses details.") }
            if user.contains("Q1 detail") {
                // Malformed the first time, then fine.
                return JudgeTests.flaky.withLock { seen in defer { seen = true }; return seen } ? .chat("7 7\nEqual.") : .chat("Scores: seven and seven")
            }
            return .chat("I cannot rate these.")
        }
        let (j, client) = try judge(server)
        let (qs, refs, answers) = benchQuestions()
        var reviewer = LLaVABenchReviewer(judge: j)
        reviewer.attempts = 2
        let file = dir.appendingPathComponent("reviews.jsonl")
        let reviews = try await reviewer.review(qs, references: refs, answers: answers, reviewsFile: file)
        XCTAssertEqual(reviews.map(\.tuple), [[8, 6], [7, 7], [-1, -1]])
        XCTAssertEqual(reviews.map(\.attempts), [1, 2, 2])
        let first = server.requests.first { $0.chat?.messages.last?.content.contains("Q0 conv") == true }!.chat!
        XCTAssertEqual(first.messages.first?.content, LLaVABench.judgeSystem)
        XCTAssertTrue(first.messages.last!.content.hasPrefix("[Context]\nA cat on a mat.\n\n[Question]\nQ0 conv?\n\n[Assistant 1]\nreference 0\n\n[End of Assistant 1]\n\n[Assistant 2]\nmodel 0\n\n"))
        XCTAssertTrue(first.messages.last!.content.hasSuffix("does not affect your judgment.\n\n"))
        let summary = LLaVABenchSummary(reviews)
        XCTAssertEqual(summary.unparsable, 1)
        // The unparsable review is averaged in as [-1, -1], as summarize_gpt_review.py does:
        // round((6+7-1)/3, 3) / round((8+7-1)/3, 3) × 100 = 4.0 / 4.667 × 100.
        XCTAssertEqual(summary.rows["all"]?.relative, 85.7)
        XCTAssertEqual(summary.rows["all"]?.count, 3)
        XCTAssertEqual(summary.rows["all"]?.unparsable, 1)
        let requests = server.requests.count
        let again = try await reviewer.review(qs, references: refs, answers: answers, reviewsFile: file)
        XCTAssertEqual(again, reviews)
        XCTAssertEqual(server.requests.count, requests)
        try await client.shutdown()
        await server.stop()
    }
    static let flaky = NSLockedBool()

    /// Where the model and the second answer differ the judge decides; an unreadable decision keeps the model's answer.
    func testScienceQAEnsembleAsksTheJudgeOnlyOnDisagreements() async throws {
        let problems = try ScienceQAProblem.load(problems: Fixtures.url("evaluation/scienceqa/problems.json"),
                                                 splits: Fixtures.url("evaluation/scienceqa/pid_splits.json"), split: "test").prefix(3)
        // Model: 1 → A (right), 2 → B (right), 3 → "I don't know" (none).
        let model = ["1": "A", "2": "B", "3": "I don't know"]
        let server = try await ScriptedOpenAIServer { request, _ in
            let user = request.chat?.messages.last?.content ?? ""
            if user.contains("Two assistants") {
                return user.contains("mammal") ? .chat("Hmm.") : .chat("Assistant 2 is right. The answer is C.")
            }
            if user.contains("mammal") { return .chat("The answer is B.") }      // disagrees, judge unreadable → keep A
            if user.contains("noun") { return .chat("Clearly a noun. The answer is B.") }  // agrees
            return .chat("Maine is north. The answer is C.")                     // disagrees, judge says C
        }
        let (j, client) = try judge(server)
        let outcome = try await ScienceQAJudge(judge: j).run(Array(problems), modelAnswers: model,
                                                             secondFile: dir.appendingPathComponent("second.jsonl"),
                                                             requeryFile: dir.appendingPathComponent("requery.jsonl"))
        XCTAssertEqual(outcome.predictions, ["1": 0, "2": 1, "3": 2])
        XCTAssertEqual(outcome.disagreements, 2)
        XCTAssertEqual(outcome.unreadable, 1)
        XCTAssertEqual(outcome.secondModelCorrect, 2)
        // The complement (eval_science_qa_gpt4.py) takes the second model's letter wherever it gave one.
        XCTAssertEqual(outcome.complement, ["1": 1, "2": 1, "3": 2])
        XCTAssertEqual(server.requests.count, 5)
        try await client.shutdown()
        await server.stop()
    }
}

/// A Bool behind a lock, for scripts that change their reply after the first request.
final class NSLockedBool: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func withLock<T>(_ body: (inout Bool) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
