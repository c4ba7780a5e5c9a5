import DataGeneration
import XCTest

/// The symbolic teacher reads only text: these contexts are written by hand, no Scene involved.
final class TeacherTests: XCTestCase {
    let captions = """
        An image of 3 red circles, a blue square and a large green star.
        3 red discs, a blue square and a green star on a beige background.
        There are 5 objects in the image: 3 red circles, a blue square and a green star.
        3 red circles, a blue square on the left and a big green star at the top.
        3 red circles, a blue square and a green star. The blue square is to the left of the green star.
        """
    let boxes = """

        red circle: [0.600, 0.600, 0.760, 0.760]
        red circle: [0.800, 0.700, 0.960, 0.860]
        red circle: [0.400, 0.800, 0.560, 0.960]
        blue square: [0.050, 0.400, 0.220, 0.570]
        green star: [0.420, 0.030, 0.700, 0.300]
        """

    func reply(_ kind: InstructionKind, _ query: String, seed: UInt64 = 1) throws -> String {
        try SymbolicTeacher(seed: seed).complete(system: TeacherPrompts.system(kind), fewShot: TeacherPrompts.fewShot(kind), query: query)
    }

    func testParsesTheHandWrittenContext() {
        let facts = SceneFacts(parsingContext: captions)
        XCTAssertEqual(facts.counts, [ObjectKind(colour: .red, shape: .circle): 3, ObjectKind(colour: .blue, shape: .square): 1,
                                      ObjectKind(colour: .green, shape: .star): 1])
        XCTAssertEqual(facts.regions, [ObjectKind(colour: .blue, shape: .square): .left, ObjectKind(colour: .green, shape: .star): .top])
        XCTAssertEqual(facts.relations.count, 1)
        XCTAssertEqual(facts.sizes[ObjectKind(colour: .green, shape: .star)], .large)
        XCTAssertEqual(facts.background, "beige")
        let withBoxes = SceneFacts(parsingContext: captions + boxes)
        XCTAssertEqual(withBoxes.boxes.count, 5)
        XCTAssertEqual(withBoxes.boxes[3].box, Box(x1: 0.05, y1: 0.4, x2: 0.22, y2: 0.57))
    }

    /// Every conversation answer over many seeds is one of the right answers for this context.
    func testConversationAnswersAreCorrectForEveryQuestionType() throws {
        let expected: [String: String] = [
            "How many circles are there?": "There are 3 circles.",
            "How many red circles are there?": "There are 3 red circles.",
            "How many objects are there?": "There are 5 objects.",
            "How many squares are there?": "There is 1 square.",
            "How many stars are there?": "There is 1 star.",
            "What shape is the green object?": "The green object is a star.",
            "Is there a green star in the image?": "Yes, there is a green star in the image.",
            "What color are the circles?": "The circles are red.",
            "What color is the square?": "The square is blue.",
            "What color is the star?": "The star is green.",
            "What shape are the red objects?": "The red objects are circles.",
            "What shape is the blue object?": "The blue object is a square.",
            "Is there a red circle in the image?": "Yes, there are 3 red circles in the image.",
            "Is there a blue square in the image?": "Yes, there is a blue square in the image.",
            "Where is the blue square in the image?": "The blue square is on the left of the image.",
            "Where is the green star in the image?": "The green star is at the top of the image.",
            "Is the blue square to the left of the green star?": "Yes, the blue square is to the left of the green star.",
            "Is the blue square to the right of the green star?": "No, the blue square is to the left of the green star.",
            "Is the green star to the right of the blue square?": "Yes, the green star is to the right of the blue square.",
            "Is the green star to the left of the blue square?": "No, the green star is to the right of the blue square.",
        ]
        var seen = Set<String>()
        for seed in 0..<60 {
            let parsed = ReplyParser.parse(try reply(.conversation, captions, seed: UInt64(seed)))
            XCTAssertEqual(parsed.malformedBlocks, 0)
            XCTAssertGreaterThanOrEqual(parsed.pairs.count, 3)
            for pair in parsed.pairs {
                seen.insert(pair.question)
                if let answer = expected[pair.question] {
                    XCTAssertEqual(pair.answer, answer, pair.question)
                } else if pair.question.hasPrefix("Is there") {
                    XCTAssertTrue(pair.answer.hasPrefix("No, there is no"), "\(pair.question) → \(pair.answer)")
                    XCTAssertFalse(["red circle", "blue square", "green star"].contains { pair.question.contains($0) })
                } else if pair.question.hasPrefix("How many") {
                    XCTAssertTrue(pair.answer.hasPrefix("There are 0 "), "\(pair.question) → \(pair.answer)")
                } else {
                    XCTFail("unexpected question \(pair.question) → \(pair.answer)")
                }
            }
        }
        for type in ["How many", "What color", "What shape", "Is there", "Where is", "to the left of"] {
            XCTAssertTrue(seen.contains { $0.contains(type) }, "no \(type) question in 60 conversations")
        }
    }

    func testDetailDescribesEveryObjectFromTheBoxes() throws {
        let text = try reply(.detail, captions + boxes)
        XCTAssertTrue(text.hasPrefix("The image shows 5 objects on a beige background."), text)
        XCTAssertTrue(text.contains("A small blue square is on the left."), text)
        XCTAssertTrue(text.contains("A large green star is at the top."), text)
        XCTAssertFalse(text.contains("==="))
        // Reading order of a 4×4 grid: the two circles in the bottom row of quarters left to
        // right (centre x 0.48 before 0.88), whatever their exact heights (0.88 and 0.78).
        XCTAssertTrue(text.contains("A large green star is at the top. A small blue square is on the left. "
                                    + "A small red circle is on the right. A small red circle is at the bottom. "
                                    + "A small red circle is on the right."), text)
    }

    func testComplexReasoningAnswersStepByStep() throws {
        var questions = Set<String>()
        for seed in 0..<40 {
            let parsed = ReplyParser.parse(try reply(.complex, captions + boxes, seed: UInt64(seed)))
            XCTAssertEqual(parsed.pairs.count, 1)
            let pair = parsed.pairs[0]
            questions.insert(pair.question)
            switch pair.question {
            case "Which object is closest to the top-left corner of the image?":
                XCTAssertTrue(pair.answer.hasPrefix("The blue square is closest to the top-left corner."), pair.answer)
            case "Which object is the largest in the image?":
                XCTAssertTrue(pair.answer.hasPrefix("The green star is the largest object."), pair.answer)
            case "Which object is the highest in the image?":
                XCTAssertTrue(pair.answer.hasPrefix("The green star is the highest object in the image."), pair.answer)
            case "If all the red objects were removed, how many objects would be left?":
                XCTAssertTrue(pair.answer.hasPrefix("2 objects would be left."), pair.answer)
                XCTAssertTrue(pair.answer.contains("5 - 3 = 2"), pair.answer)
            case "Are there more circles than squares in the image?":
                XCTAssertTrue(pair.answer.hasPrefix("Yes, there are more circles than squares."), pair.answer)
            default:
                XCTAssertGreaterThan(pair.answer.split(separator: ".").count, 1, "not step by step: \(pair.answer)")
            }
        }
        XCTAssertGreaterThanOrEqual(questions.count, 4, "\(questions)")
    }

    func testTeacherIsDeterministicAndRefusesUnknownTasks() throws {
        XCTAssertEqual(try reply(.conversation, captions, seed: 3), try reply(.conversation, captions, seed: 3))
        XCTAssertThrowsError(try SymbolicTeacher().complete(system: "Translate to French.", fewShot: [], query: captions))
        XCTAssertThrowsError(try reply(.conversation, "A photo of a cat."))
    }

    func testContextFormatMatchesLLaVA() {
        let prompt = TeacherPrompt(kind: .complex, captions: ["A red circle."],
                                   boxes: [ContextBox(category: "red circle", box: Box(x1: 0.1, y1: 0.25, x2: 0.3333, y2: 0.5))])
        XCTAssertEqual(prompt.query, "A red circle.\n\nred circle: [0.100, 0.250, 0.333, 0.500]")
        let conversation = TeacherPrompt(kind: .conversation, captions: ["A red circle.", "One red disc."],
                                         boxes: [ContextBox(category: "red circle", box: Box(x1: 0, y1: 0, x2: 1, y2: 1))])
        XCTAssertEqual(conversation.query, "A red circle.\nOne red disc.")
        for kind in InstructionKind.allCases {
            XCTAssertFalse(TeacherPrompts.fewShot(kind).isEmpty)
            XCTAssertNotEqual(TeacherPrompts.system(kind), TeacherPrompts.system(kind == .detail ? .complex : .detail))
        }
    }
}
