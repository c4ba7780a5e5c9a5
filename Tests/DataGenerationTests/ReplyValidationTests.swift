import DataGeneration
import XCTest

/// Teacher replies as real LLMs write them: well formed, wrapped in prose, in markdown, broken,
/// refused, empty, in other scripts.
final class ReplyValidationTests: XCTestCase {
    func pairs(_ text: String, _ kind: InstructionKind = .conversation, finish: String? = "stop") -> [QAPair]? {
        try? ReplyValidator.validate(text, kind: kind, finishReason: finish).get()
    }

    func rejection(_ text: String, _ kind: InstructionKind = .conversation, finish: String? = "stop") -> ReplyRejection? {
        if case .failure(let r) = ReplyValidator.validate(text, kind: kind, finishReason: finish) { return r }
        return nil
    }

    let twoTurns = "Question:\nWhat animal is on the couch?\n===\nAnswer:\nA dog is lying on the couch.\n===\nQuestion:\nIs it asleep?\n===\nAnswer:\nYes, its eyes are closed.\n==="

    func testWellFormedConversation() {
        XCTAssertEqual(pairs(twoTurns), [QAPair(question: "What animal is on the couch?", answer: "A dog is lying on the couch."),
                                         QAPair(question: "Is it asleep?", answer: "Yes, its eyes are closed.")])
    }

    func testProseAroundTheBlocksIsIgnored() {
        let wrapped = "Sure! Here is a conversation about the image:\n\n" + twoTurns + "\n\nI hope this helps!"
        XCTAssertEqual(pairs(wrapped)?.count, 2)
        XCTAssertEqual(pairs(wrapped)?.last?.answer, "Yes, its eyes are closed.")
    }

    func testMarkdownLabelsAreAccepted() {
        let md = "**Question:** What color is the bus?\n===\n**Answer:** The bus is red.\n===\n## Question:\nHow many buses?\n===\n## Answer:\nOne.\n==="
        XCTAssertEqual(pairs(md), [QAPair(question: "What color is the bus?", answer: "The bus is red."),
                                   QAPair(question: "How many buses?", answer: "One.")])
    }

    func testMalformedBlocksAreRejected() {
        XCTAssertEqual(rejection("Question:\nWhat is it?\n===\nQuestion:\nAnd this?\n===\nAnswer:\nA cat.\n==="), .malformedBlocks(1))
        XCTAssertEqual(rejection("Question:\nWhat is it?\n===\nA cat, really.\n===\nAnswer:\nA cat.\n==="), .malformedBlocks(1))
        XCTAssertEqual(rejection("Question:\nWhat is it?\n==="), .malformedBlocks(1))
        XCTAssertEqual(rejection("A dog lies on a blue couch next to a pillow."), .noQuestionAnswerPairs)
    }

    func testEmptyAnswersAndRepliesAreRejected() {
        XCTAssertEqual(rejection(""), .empty)
        XCTAssertEqual(rejection("  \n\n "), .empty)
        XCTAssertEqual(rejection("", .detail), .empty)
        XCTAssertEqual(rejection("Question:\nWhat is it?\n===\nAnswer:\n\n==="), .malformedBlocks(1))
        XCTAssertEqual(rejection("Question:\n\n===\nAnswer:\nA cat.\n==="), .malformedBlocks(2))
    }

    func testRefusalsAndUncertainAnswersAreRejected() {
        XCTAssertEqual(rejection("I'm sorry, but I can't help with that request."), .refusalOrUncertain(phrase: "i'm sorry"))
        XCTAssertEqual(rejection("I\u{2019}m sorry, I cannot see images.", .detail), .refusalOrUncertain(phrase: "i'm sorry"))
        XCTAssertEqual(rejection("As an AI, I do not have eyes.", .detail), .refusalOrUncertain(phrase: "as an ai"))
        XCTAssertEqual(rejection("Question:\nWhat time is it?\n===\nAnswer:\nThe time cannot be determined from the image.\n==="),
                       .refusalOrUncertain(phrase: "cannot be determined"))
    }

    func testMentionsOfTheTextContextAreRejected() {
        XCTAssertEqual(rejection("Question:\nWhat is shown?\n===\nAnswer:\nAccording to the captions, a dog.\n==="),
                       .mentionsContext(phrase: "caption"))
        XCTAssertEqual(rejection("The dog is at coordinates [0.1, 0.2] on the left.", .detail), .mentionsContext(phrase: "coordinate"))
        XCTAssertEqual(rejection("The bounding box of the bus covers most of the picture.", .detail), .mentionsContext(phrase: "bounding box"))
        XCTAssertEqual(rejection("Question:\nWhat is it?\n===\nAnswer:\nAs the description says, a bus.\n==="),
                       .mentionsContext(phrase: "the description"))
    }

    func testTruncatedRepliesAreRejected() {
        XCTAssertEqual(rejection(twoTurns, finish: "length"), .truncated)
        XCTAssertNotNil(pairs(twoTurns, finish: nil), "servers without finish_reason are fine")
    }

    func testDetailIsPlainText() {
        let text = "  A red bus is parked at the curb while a man rides past on a bicycle.\n"
        XCTAssertEqual(pairs(text, .detail), [QAPair(question: "", answer: text.trimmingCharacters(in: .whitespacesAndNewlines))])
        XCTAssertEqual(rejection(twoTurns, .detail), .blocksInDescription)
    }

    func testComplexKeepsOnePair() {
        XCTAssertEqual(pairs(twoTurns, .complex), [QAPair(question: "What animal is on the couch?", answer: "A dog is lying on the couch.")])
    }

    func testUnicodeSurvives() {
        let text = "Question:\n¿Qué animal está en el sofá? 🐶\n===\nAnswer:\n一只狗躺在沙发上。Ça dort — paisiblement.\n==="
        XCTAssertEqual(pairs(text), [QAPair(question: "¿Qué animal está en el sofá? 🐶", answer: "一只狗躺在沙发上。Ça dort — paisiblement.")])
        XCTAssertEqual(pairs("Ein Hund schläft auf dem Sofa. 犬がソファで寝ている。", .detail)?.first?.answer,
                       "Ein Hund schläft auf dem Sofa. 犬がソファで寝ている。")
    }

    /// The shipped examples are exactly what the validator asks for.
    func testEveryBuiltInExampleIsAValidReply() throws {
        for set in BuiltInPrompts.allCases {
            let prompts = try set.load()
            for (kind, prompt) in prompts.kinds {
                XCTAssertFalse(prompt.examples.isEmpty, "\(set) \(kind)")
                for (i, e) in prompt.examples.enumerated() {
                    XCTAssertNotNil(pairs(e.assistant, kind), "\(set) \(kind) example \(i + 1): \(rejection(e.assistant, kind).map { "\($0)" } ?? "")")
                }
            }
        }
    }
}
