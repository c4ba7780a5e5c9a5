import Foundation
import Tokenizer
import XCTest

/// `flags/`: `<image>` with lstrip+rstrip, `<pad>` with rstrip, `<|extra|>` single_word, no
/// tokenizer_config.json; reference ids from the `tokenizers` library itself.
final class AddedTokenFlagTests: XCTestCase {
    struct Entry: Decodable { var text: String; var ids: [Int]; var decoded: String }
    struct Corpus: Decodable { var entries: [Entry] }

    func testStripAndSingleWordMatchReference() throws {
        let directory = TokenizerFixtures.directory("flags")
        let tokenizer = try Tokenizer(directory: directory)
        let data = try Data(contentsOf: directory.appendingPathComponent("corpus.json"))
        let entries = try JSONDecoder().decode(Corpus.self, from: data).entries
        XCTAssertFalse(entries.isEmpty)
        for entry in entries {
            assertIDs(tokenizer.encode(entry.text), entry.ids, text: entry.text, "flags ids")
            XCTAssertEqual(tokenizer.decode(entry.ids), entry.decoded, entry.text.debugDescription)
        }
    }
}
