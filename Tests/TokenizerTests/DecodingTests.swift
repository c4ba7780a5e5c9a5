import Tokenizer
import XCTest

final class DecodingTests: XCTestCase {
    func testDecodeMatchesReference() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for entry in try TokenizerFixtures.corpus(spelling).entries {
                XCTAssertEqual(tokenizer.decode(entry.ids), entry.decoded, "\(spelling) \(entry.text.debugDescription)")
                XCTAssertEqual(tokenizer.decode(entry.ids, skipSpecialTokens: false), entry.decodedWithSpecial,
                               "\(spelling) with specials \(entry.text.debugDescription)")
            }
        }
    }

    func testRoundTripWhereReferenceRoundTrips() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            let entries = try TokenizerFixtures.corpus(spelling).entries.filter(\.roundtrip)
            XCTAssertGreaterThan(entries.count, 40)
            for entry in entries {
                XCTAssertEqual(tokenizer.decode(tokenizer.encode(entry.text)), entry.text, "\(spelling)")
            }
        }
    }

    func testInvalidByteRunDecodesToReplacementPerByte() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("legacy")
        let bytes = ["<0xE2>", "<0x96>", "<0xFF>"].compactMap(tokenizer.id(of:))
        let word = tokenizer.encode("red", addSpecialTokens: false)
        XCTAssertEqual(tokenizer.decode(word + bytes + word), "red\u{FFFD}\u{FFFD}\u{FFFD} red")
        let snowman = ["<0xE2>", "<0x98>", "<0x83>"].compactMap(tokenizer.id(of:))
        XCTAssertEqual(tokenizer.decode(word + snowman), "red☃")
    }
}
