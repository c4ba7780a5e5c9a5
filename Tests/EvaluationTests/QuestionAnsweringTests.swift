import DataGeneration
import Evaluation
import Foundation
import LLaVA
import Language
import Vision
import TestSupport
import XCTest

final class QuestionAnsweringTests: XCTestCase {
    func testQuestionsDecodeIntegerAndStringIDsAndBadLinesNameTheirLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("q.jsonl")
        try "{\"question_id\": 7, \"image\": \"a.png\", \"text\": \"What?\"}\n{\"question_id\": \"x1\", \"text\": \"Why?\", \"answer\": \"no\", \"type\": \"existence\"}\n"
            .write(to: good, atomically: true, encoding: .utf8)
        let qs = try JSONLines.read(good, as: EvaluationQuestion.self)
        XCTAssertEqual(qs.map(\.questionID), ["7", "x1"])
        XCTAssertEqual(qs[0].image, "a.png")
        XCTAssertNil(qs[1].image)
        XCTAssertEqual(qs[1].answer, "no")

        let bad = dir.appendingPathComponent("bad.jsonl")
        try "{\"question_id\": 1, \"text\": \"ok\"}\n{\"text\": \"no id\"}\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try JSONLines.read(bad, as: EvaluationQuestion.self)) { error in
            guard case EvaluationError.badLine(let file, let line, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 2)
            XCTAssertTrue(file.hasSuffix("bad.jsonl"))
        }
        XCTAssertThrowsError(try JSONLines.read(dir.appendingPathComponent("missing.jsonl"), as: EvaluationQuestion.self))
    }

    func testChunksSplitContiguouslyAndCoverEverything() {
        let items = Array(0..<10)
        let chunks = (0..<3).map { Array(QuestionAnswering.chunk(items, count: 3, index: $0)) }
        XCTAssertEqual(chunks, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        XCTAssertEqual(Array(QuestionAnswering.chunk(items, count: 1, index: 0)), items)
        XCTAssertTrue(QuestionAnswering.chunk([Int](), count: 4, index: 3).isEmpty)
    }

    /// The answer loop wraps each question in the template with its image, as a one-shot run does.
    func testAnswersEqualAOneShotGenerationThroughTheTemplate() throws {
        let model = try LLaVAModel(directory: Fixtures.url("llava/hf-mlp2x-default"))
        var qa = QuestionAnswering(model: model, imageFolder: Fixtures.url("images"), template: .llavaHF, maxNewTokens: 8)
        let (prompt, text) = try qa.answer(EvaluationQuestion(questionID: "1", image: "gray.png", text: "What is in the image?"))
        XCTAssertEqual(prompt, "USER: <image>\nWhat is in the image? ASSISTANT:")
        let direct = try model.generate(prompt: prompt, images: [try ImageDecoder.decode(contentsOf: Fixtures.url("images/gray.png"))],
                                        parameters: GenerationParameters(maxNewTokens: 8))
        XCTAssertEqual(text, direct.text.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines))
        XCTAssertFalse(text.isEmpty)
    }

    func testSyntheticWorldScorerAgreesWithItsQuestions() {
        XCTAssertTrue(EvalQuestions.isCorrect(prediction: "There are 3 circles.", answer: "3", type: .count))
        XCTAssertFalse(EvalQuestions.isCorrect(prediction: "There are 2 circles.", answer: "3", type: .count))
    }
}
