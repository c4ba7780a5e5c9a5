import DataGeneration
import XCTest

final class ReplyParserTests: XCTestCase {
    func testWellFormedBlocks() {
        let r = ReplyParser.parse("Question:\nIs there a star?\n===\nAnswer:\nYes.\n===\nQuestion:\nHow many?\n===\nAnswer:\n2.\n===")
        XCTAssertEqual(r.pairs, [QAPair(question: "Is there a star?", answer: "Yes."), QAPair(question: "How many?", answer: "2.")])
        XCTAssertEqual(r.malformedBlocks, 0)
    }

    func testWhitespaceAndMissingFinalSeparator() {
        let r = ReplyParser.parse("\n\n  Question:   Is it red?  \n\n===\n  answer:\n\n It is red. \n\n")
        XCTAssertEqual(r.pairs, [QAPair(question: "Is it red?", answer: "It is red.")])
        XCTAssertEqual(r.malformedBlocks, 0)
    }

    func testMalformedBlocksAreDroppedAndCounted() {
        // A question without answer, an answer without question, a stray block, an empty answer.
        let text = """
            Question:
            Lost question?
            ===
            Question:
            Kept question?
            ===
            Answer:
            Kept answer.
            ===
            Answer:
            Orphan answer.
            ===
            Some chatter.
            ===
            Question:
            Empty answer?
            ===
            Answer:
            ===
            """
        let r = ReplyParser.parse(text)
        XCTAssertEqual(r.pairs, [QAPair(question: "Kept question?", answer: "Kept answer.")])
        XCTAssertEqual(r.malformedBlocks, 4)
    }

    func testEmptyAndDanglingReplies() {
        XCTAssertEqual(ReplyParser.parse("").pairs, [])
        XCTAssertEqual(ReplyParser.parse("=== ===").malformedBlocks, 0)
        XCTAssertEqual(ReplyParser.parse("Question:\nAlone?").malformedBlocks, 1)
        XCTAssertNil(ReplyParser.parseDescription("  \n "))
        XCTAssertEqual(ReplyParser.parseDescription("  A red circle. \n"), "A red circle.")
    }
}
