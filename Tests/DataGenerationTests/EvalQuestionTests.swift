import DataGeneration
import Foundation
import XCTest

final class EvalQuestionTests: XCTestCase {
    func testScorerEdgeCases() {
        typealias C = (String, String, QuestionType, Bool)
        let cases: [C] = [
            ("There are 3 circles.", "3", .count, true),
            ("There are three circles.", "3", .count, true),
            ("There are 2 circles, not 3.", "3", .count, false),
            ("I see no number", "3", .count, false),
            ("No, there is no red star.", "no", .existence, true),
            ("No, there is no red star.", "yes", .existence, false),
            ("Yes, there is a red star in the image.", "yes", .existence, true),
            ("There is not a red star.", "no", .existence, true),
            ("The red star is present.", "yes", .existence, true),
            ("", "yes", .existence, false),
            ("The circle is red.", "red", .colour, true),
            ("The circle is red and blue.", "red", .colour, false),
            ("RED!", "red", .colour, true),
            ("The red object is a circle.", "circle", .shape, true),
            ("The red objects are circles.", "circle", .shape, true),
            ("A circle or a square.", "circle", .shape, false),
            ("The red object is a plus sign.", "cross", .shape, true),
            ("The red circle is on the left of the image.", "left", .position, true),
            ("The red circle is in the middle.", "center", .position, true),
            ("It is at the top left.", "top", .position, false),
            ("Yes, the red circle is to the left of the blue star.", "yes", .relation, true),
            ("No, the red circle is to the right of the blue star.", "yes", .relation, false),
        ]
        for (prediction, answer, type, expected) in cases {
            XCTAssertEqual(EvalQuestions.isCorrect(prediction: prediction, answer: answer, type: type), expected,
                           "\(type) \"\(prediction)\" vs \(answer)")
        }
    }

    /// Held-out questions use the teacher's wording: each eval question, answered by the
    /// teacher's full answer for the same facts, is scored correct.
    func testQuestionsMatchTheTeachersPhrasingAndAnswers() throws {
        let world = try WorldGenerator()
        var types = Set<QuestionType>()
        var answersByQuestion: [String: String] = [:]
        for seed in 0..<80 {
            let scene = world.scene(seed: UInt64(seed))
            let captions = CaptionWriter.captions(for: scene, seed: UInt64(seed))
            let teacher = SymbolicTeacher(seed: UInt64(seed))
            for t in 0..<5 {
                let prompt = TeacherPrompt(kind: .conversation, captions: captions, boxes: [])
                let reply = try SymbolicTeacher(seed: UInt64(seed * 10 + t)).complete(system: prompt.system, fewShot: [], query: prompt.query)
                for p in ReplyParser.parse(reply).pairs { answersByQuestion["\(seed)|\(p.question)"] = p.answer }
            }
            _ = teacher
            let questions = EvalQuestions.questions(for: scene, image: "val/\(seed + 1).png", firstID: 0, seed: UInt64(seed))
            XCTAssertGreaterThanOrEqual(questions.count, 3)
            for q in questions {
                types.insert(q.type)
                if let teacherAnswer = answersByQuestion["\(seed)|\(q.question)"], q.type != .relation {
                    XCTAssertTrue(EvalQuestions.isCorrect(prediction: teacherAnswer, answer: q.answer, type: q.type),
                                  "seed \(seed): \(q.question) teacher \"\(teacherAnswer)\" vs \(q.answer)")
                }
            }
        }
        XCTAssertEqual(types, Set(QuestionType.allCases))
    }

    func testJSONLRoundTrip() throws {
        let questions = [EvalQuestion(id: 0, image: "val/1.png", type: .count, question: "How many circles are there?", answer: "2"),
                         EvalQuestion(id: 1, image: "val/1.png", type: .existence, question: "Is there a red star in the image?", answer: "no")]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try EvalQuestions.writeJSONL(questions, to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").first,
                       #"{"answer":"2","image":"val/1.png","question_id":0,"text":"How many circles are there?","type":"count"}"#)
        XCTAssertEqual(try EvalQuestions.readJSONL(from: url), questions)
    }
}
