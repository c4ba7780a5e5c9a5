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

    /// A question names a shared shape when one of its objects ("the red star") has a shape that
    /// an object of another colour has in the scene; plural and other shapes do not count.
    func testNamesASharedShape() throws {
        func object(_ shape: String, _ colour: String) -> String {
            #"{"shape":"\#(shape)","colour":"\#(colour)","size":"small","radius":5,"centre":{"x":10,"y":10},"#
                + #""box":{"x1":5,"y1":5,"x2":15,"y2":15},"visibleFraction":1}"#
        }
        let json = #"{"size":64,"background":"slate","textureSeed":1,"objects":["#
            + [object("star", "red"), object("star", "blue"), object("circle", "green"), object("circle", "green")].joined(separator: ",") + "]}"
        let scene = try JSONDecoder().decode(Scene.self, from: Data(json.utf8))
        XCTAssertTrue(EvalQuestions.namesASharedShape("Where is the red star in the image?", in: scene))
        XCTAssertTrue(EvalQuestions.namesASharedShape("Is the green circle to the left of the blue star?", in: scene))
        XCTAssertFalse(EvalQuestions.namesASharedShape("Where is the green circle in the image?", in: scene))
        XCTAssertFalse(EvalQuestions.namesASharedShape("How many stars are there?", in: scene))
        XCTAssertFalse(EvalQuestions.namesASharedShape("What shape is the red object?", in: scene))
    }


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

    /// The relation set asks every clear relation of a scene true and false: each answer agrees
    /// with the objects' centres, yes and no are balanced on each axis, both axes occur over many
    /// scenes, and the same seed gives the same questions.
    func testRelationQuestionsAreBalancedAndTrue() throws {
        var configuration = WorldConfiguration(imageSize: 64)
        configuration.layout = .grid
        let world = try WorldGenerator(configuration: configuration)
        var answers: [String: Int] = [:]
        for seed in 0..<100 {
            let scene = world.scene(seed: UInt64(seed))
            let questions = EvalQuestions.relationQuestions(for: scene, image: "test/\(seed).png", firstID: 0, seed: UInt64(seed))
            XCTAssertEqual(questions, EvalQuestions.relationQuestions(for: scene, image: "test/\(seed).png", firstID: 0, seed: UInt64(seed)))
            XCTAssertEqual(questions.map(\.id), Array(questions.indices))
            XCTAssertEqual(questions.count, 2 * SceneFacts(scene: scene).relations.count, "seed \(seed)")
            // Every question, read back against the scene: the two single objects it names and the relation it asks.
            let singles = scene.objects.filter { o in scene.objects.filter { $0.kind == o.kind }.count == 1 }
            for q in questions {
                XCTAssertEqual(q.type, .relation)
                var found: (asked: Relation, holds: Relation?)?
                for a in singles {
                    for b in singles where b.kind != a.kind {
                        for r in Relation.allCases where q.question == "Is the \(a.kind.name) \(r.rawValue) the \(b.kind.name)?" {
                            found = (r, Relation(from: scene.normalisedCentre(a), to: scene.normalisedCentre(b)))
                        }
                    }
                }
                guard let found, let holds = found.holds else {
                    XCTFail("seed \(seed): \(q.question) does not ask a clear relation between two single objects"); continue
                }
                XCTAssertEqual(q.answer, found.asked == holds ? "yes" : "no", "seed \(seed): \(q.question)")
                XCTAssertEqual(found.asked.isHorizontal, holds.isHorizontal, "seed \(seed): \(q.question) asks the other axis")
                answers["\(found.asked.isHorizontal ? "horizontal" : "vertical") \(q.answer)", default: 0] += 1
            }
        }
        XCTAssertEqual(answers["horizontal yes"], answers["horizontal no"], "\(answers)")
        XCTAssertEqual(answers["vertical yes"], answers["vertical no"], "\(answers)")
        XCTAssertGreaterThan(answers["horizontal yes"] ?? 0, 20, "\(answers)")
        XCTAssertGreaterThan(answers["vertical yes"] ?? 0, 20, "\(answers)")
    }
}
