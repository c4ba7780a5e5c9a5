import Foundation
import Tokenizer
import XCTest

/// The reference dumps written by `scripts/fixtures/tokenizer.py` (HF transformers 5 +
/// tokenizers 0.23). Regenerate with `python scripts/fixtures/tokenizer.py` if they go stale.
enum TokenizerFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")

    /// `legacy`: Prepend+Replace normalizer, "a b" merges. `metaspace`: Metaspace, ["a","b"] merges.
    static let spellings = ["legacy", "metaspace"]

    /// `bytelevel`: GPT-2 layout (ByteLevel pre-tokenizer with its regex). `llama3`: NFC, Split by
    /// the LLaMA-3 regex, ByteLevel(use_regex: false), ignore_merges, BOS by template.
    static let byteLevelSpellings = ["bytelevel", "llama3"]

    static func directory(_ spelling: String) -> URL { root.appendingPathComponent(spelling) }

    static func tokenizer(_ spelling: String, file: StaticString = #filePath, line: UInt = #line) throws -> Tokenizer {
        try Tokenizer(directory: directory(spelling))
    }

    static func corpus(_ spelling: String) throws -> Corpus {
        let data = try Data(contentsOf: directory(spelling).appendingPathComponent("corpus.json"))
        return try JSONDecoder().decode(Corpus.self, from: data)
    }

    static func data(_ spelling: String, _ name: String) throws -> Data {
        try Data(contentsOf: directory(spelling).appendingPathComponent(name))
    }
}

struct Corpus: Decodable {
    struct Entry: Decodable {
        var text: String
        var ids: [Int]
        var idsNoSpecial: [Int]
        var tokens: [String]
        var decoded: String
        var decodedWithSpecial: String
        var roundtrip: Bool

        enum CodingKeys: String, CodingKey {
            case text, ids, idsNoSpecial = "ids_no_special", tokens, decoded
            case decodedWithSpecial = "decoded_with_special", roundtrip
        }
    }

    struct Stream: Decodable {
        var ids: [Int]
        var prefixDecodes: [String]
        var prefixDecodesWithSpecial: [String]

        enum CodingKeys: String, CodingKey {
            case ids, prefixDecodes = "prefix_decodes", prefixDecodesWithSpecial = "prefix_decodes_with_special"
        }
    }

    struct Example: Decodable { var text: String; var ids: [Int] }

    var entries: [Entry]
    var streaming: [Stream]
    var addEOSExample: Example

    enum CodingKeys: String, CodingKey { case entries, streaming, addEOSExample = "add_eos_example" }
}

/// Fails with the text and both id lists, so a mismatch can be read without a debugger.
func assertIDs(_ actual: [Int], _ expected: [Int], text: String, _ what: String,
               file: StaticString = #filePath, line: UInt = #line) {
    guard actual != expected else { return }
    let at = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(actual.count, expected.count)
    XCTFail("\(what) for \(text.debugDescription): first difference at index \(at)\n  expected \(expected)\n  actual   \(actual)",
            file: file, line: line)
}
