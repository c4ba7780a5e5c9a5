import Foundation
import Tokenizer
import XCTest

/// `equivalent/`: a vocabulary with canonically equivalent pieces ("é" U+00E9 and "e" U+0301,
/// "Å" U+00C5 and the Ångström sign U+212B) and added tokens "ñ" / "n" U+0303, each with its own
/// id. Swift's `String ==` would merge each pair; the reference (raw `tokenizers`) keeps them apart.
final class EquivalentPiecesTests: XCTestCase {
    struct Entry: Decodable { var text: String; var ids: [Int]; var tokens: [String]; var decoded: String }
    struct Corpus: Decodable { var entries: [Entry] }

    private let directory = TokenizerFixtures.directory("equivalent")

    func testIDsMatchReference() throws {
        let tokenizer = try Tokenizer(directory: directory)
        let data = try Data(contentsOf: directory.appendingPathComponent("corpus.json"))
        let entries = try JSONDecoder().decode(Corpus.self, from: data).entries
        XCTAssertEqual(entries.count, 8)
        for entry in entries {
            assertIDs(tokenizer.encode(entry.text), entry.ids, text: entry.text, "equivalent ids")
            // Compare scalars: `==` on String would accept the wrong spelling.
            XCTAssertEqual(tokenizer.tokens(for: entry.ids).map { Array($0.unicodeScalars) },
                           entry.tokens.map { Array($0.unicodeScalars) }, entry.text.debugDescription)
            XCTAssertEqual(Array(tokenizer.decode(entry.ids).unicodeScalars), Array(entry.decoded.unicodeScalars))
        }
    }

    func testEveryPieceKeepsItsOwnID() throws {
        let tokenizer = try Tokenizer(directory: directory)
        XCTAssertEqual(tokenizer.vocabularySize, 16)
        let pairs: [(String, Int)] = [("\u{E9}", 3), ("e\u{301}", 4), ("\u{C5}", 5), ("\u{212B}", 6),
                                      ("A\u{30A}", 9), ("\u{E9}x", 11), ("e\u{301}x", 12), ("\u{F1}", 14), ("n\u{303}", 15)]
        for (piece, id) in pairs {
            XCTAssertEqual(tokenizer.id(of: piece), id, "\(piece.unicodeScalars.map { String($0.value, radix: 16) })")
            XCTAssertEqual(tokenizer.token(of: id).map { Array($0.unicodeScalars) }, Array(piece.unicodeScalars))
        }
    }

    /// Escapes in the vocabulary's JSON (`\u00e9`, surrogate pairs, `\"`) read as the same pieces.
    func testEscapedVocabularyKeys() throws {
        let json = #"""
        {"added_tokens": [], "model": {"type": "BPE", "merges": [["e", "\u0301"]],
         "vocab": {"<unk>": 0, "e": 1, "\u0301": 2, "\u00e9": 3, "e\u0301": 4, "\ud83d\ude00": 5, "\"q\\": 6},
         "unk_token": "<unk>"}}
        """#
        let tokenizer = try Tokenizer(tokenizerJSON: Data(json.utf8), configJSON: nil, source: "inline.json")
        XCTAssertEqual(tokenizer.encode("\u{E9}e\u{301}", addSpecialTokens: false), [3, 4])
        XCTAssertEqual(tokenizer.id(of: "😀"), 5)
        XCTAssertEqual(tokenizer.id(of: "\"q\\"), 6)
    }

    func testNonIntegerVocabularyIDNamesKey() {
        let json = #"{"model": {"type": "BPE", "merges": [], "vocab": {"a": 0, "b": 1.5}}}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(json.utf8), configJSON: nil, source: "x.json")) { error in
            XCTAssertTrue("\(error)".contains("model.vocab[\"b\"]"), "\(error)")
        }
    }
}
