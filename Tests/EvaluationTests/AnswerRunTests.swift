import Evaluation
import Foundation
import LLaVA
import Language
import TestSupport
import Vision
import XCTest

/// A scripted answerer: answers "<text> #<calls>" and counts calls.
final class CountingAnswerer: Answerer, @unchecked Sendable {
    let lock = NSLock()
    var asked: [String] = []
    var modelID: String { "scripted" }
    var parallel: Int { 3 }
    func answer(_ text: String, image: RGBImage?) async throws -> String {
        lock.withLock { asked.append(text) }
        return "answer to \(text)" + (image == nil ? "" : " with \(image!.width)x\(image!.height)")
    }
}

final class AnswerRunTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-answer-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func items(_ n: Int) -> [BenchmarkItem] {
        (0..<n).map { BenchmarkItem(id: "q\($0)", image: $0 % 2 == 0 ? .file(Fixtures.url("images/gray.png")) : nil, text: "question \($0)") }
    }

    /// A run writes every answer in item order; a second run with a cut-off last line asks
    /// only the lost question; a complete file needs no answerer at all.
    func testResumesAfterACutOffLineAndAsksOnlyWhatIsMissing() async throws {
        let file = dir.appendingPathComponent("answers.jsonl")
        let first = CountingAnswerer()
        let all = try await AnswerRun(answersFile: file).run(items(7)) { first }
        XCTAssertEqual(all.count, 7)
        XCTAssertEqual(all["q2"]?.text, "answer to question 2 with 45x31")
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 7)
        let ids = try JSONLines.read(file, as: EvaluationAnswer.self).map(\.questionID)
        XCTAssertEqual(ids, (0..<7).map { "q\($0)" })
        // Kill mid-write: the last line is cut in half.
        let cut = lines.dropLast().joined(separator: "\n") + "\n" + lines.last!.prefix(20)
        try Data(cut.utf8).write(to: file)
        let second = CountingAnswerer()
        let resumed = try await AnswerRun(answersFile: file).run(items(7)) { second }
        XCTAssertEqual(second.asked, ["question 6"])
        XCTAssertEqual(resumed.count, 7)
        XCTAssertEqual(try JSONLines.read(file, as: EvaluationAnswer.self).count, 7)
        _ = try await AnswerRun(answersFile: file).run(items(7)) { XCTFail("no answerer needed"); return second }
    }

    /// A conversation resumed turn by turn: the run for turn one keeps the later turns' answers
    /// that the file holds (ids in `keeping`), so they are not asked again, and drops the rest.
    func testARunKeepsTheLaterTurnsAnswersItIsTold() async throws {
        let file = dir.appendingPathComponent("answers.jsonl")
        _ = try await AnswerRun(answersFile: file).run(items(5)) { CountingAnswerer() }
        let counting = CountingAnswerer()
        let first = try await AnswerRun(answersFile: file).run(Array(items(5).prefix(2)), keeping: ["q3", "q4", "q9"]) { counting }
        XCTAssertEqual(first.count, 2)
        XCTAssertEqual(try JSONLines.read(file, as: EvaluationAnswer.self).map(\.questionID), ["q0", "q1", "q3", "q4"])
        _ = try await AnswerRun(answersFile: file).run(Array(items(5).suffix(2))) { XCTFail("no answerer needed"); return counting }
        XCTAssertEqual(try JSONLines.read(file, as: EvaluationAnswer.self).map(\.questionID), ["q3", "q4"])
    }

    func testABadLineInTheMiddleAndDuplicateIDsAreErrors() async throws {
        let file = dir.appendingPathComponent("answers.jsonl")
        try Data("{\"question_id\": \"q0\", \"text\": \"a\"}\nnot json\n{\"question_id\": \"q1\", \"text\": \"b\"}\n".utf8).write(to: file)
        do {
            _ = try await AnswerRun(answersFile: file).run(items(2)) { CountingAnswerer() }
            XCTFail("expected an error")
        } catch EvaluationError.badLine(let f, let line, _) {
            XCTAssertEqual(line, 2)
            XCTAssertTrue(f.hasSuffix("answers.jsonl"))
        }
        do {
            _ = try await AnswerRun(answersFile: nil).run(items(2) + items(1)) { CountingAnswerer() }
            XCTFail("expected an error")
        } catch EvaluationError.invalidArgument(let message) {
            XCTAssertTrue(message.contains("'q0'"), message)
        }
    }

    /// A question too long for the context is recorded with an empty answer and marked in its
    /// metadata; the run answers every other question (scripted, then through the engine).
    func testAnOverlongQuestionIsRecordedEmptyAndTheRunGoesOn() async throws {
        final class TooLong: Answerer, @unchecked Sendable {
            var modelID: String { "scripted" }
            var parallel: Int { 2 }
            func answer(_ text: String, image: RGBImage?) async throws -> String {
                if text == "question 1" { throw OverlongQuestion(reason: "the prompt takes 9000 positions of 4096") }
                return "fine"
            }
        }
        let file = dir.appendingPathComponent("answers.jsonl")
        let all = try await AnswerRun(answersFile: file).run(items(3)) { TooLong() }
        XCTAssertEqual(all.mapValues(\.text), ["q0": "fine", "q1": "", "q2": "fine"])
        XCTAssertEqual(all.values.filter(\.isOverlong).map(\.questionID), ["q1"])
        let saved = try JSONLines.read(file, as: EvaluationAnswer.self)
        XCTAssertEqual(saved[1].metadata[EvaluationAnswer.overlongKey], "the prompt takes 9000 positions of 4096")
        // A resumed run does not ask it again.
        _ = try await AnswerRun(answersFile: file).run(items(3)) { XCTFail("no answerer needed"); return TooLong() }

        let model = try LLaVAModel(directory: Fixtures.url("llava/hf-mlp2x-default"))
        let long = BenchmarkItem(id: "long", image: nil, text: String(repeating: "word ", count: 2000))
        let engine = try await AnswerRun(answersFile: nil).run([long] + items(1)) {
            EngineAnswerer(engine: InferenceEngine(model: model, template: .llavaHF, parallel: 2), maxNewTokens: 2)
        }
        XCTAssertEqual(engine["long"]?.text, "")
        XCTAssertTrue(engine["long"]?.metadata[EvaluationAnswer.overlongKey]?.contains("context") == true, "\(engine["long"]?.metadata ?? [:])")
        XCTAssertEqual(engine["q0"]?.isOverlong, false)
    }

    /// The engine's batched answers equal one-at-a-time answers (greedy is batch-invariant).
    func testEngineAnswersEqualOneAtATimeAnswers() async throws {
        let model = try LLaVAModel(directory: Fixtures.url("llava/hf-mlp2x-default"))
        let batch = items(4)
        let together = try await AnswerRun(answersFile: nil).run(batch) {
            EngineAnswerer(engine: InferenceEngine(model: model, template: .llavaHF, parallel: 4), maxNewTokens: 6)
        }
        let alone = EngineAnswerer(engine: InferenceEngine(model: model, template: .llavaHF, parallel: 1), maxNewTokens: 6)
        for item in batch {
            let single = try await alone.answer(item.text, image: try item.decodeImage())
            XCTAssertEqual(together[item.id]?.text, single, item.id)
        }
    }
}
