import Foundation
import Tokenizer
import XCTest

/// `BPETrainer`: the written files load in `Tokenizer`, round-trip, have the asked size, are
/// deterministic, and give the ids HF `tokenizers`/`transformers` give for the same files
/// (`Fixtures/tokenizer/trained/expected.json`, from `scripts/fixtures/bpe_trainer.py`).
final class BPETrainerTests: XCTestCase {
    static let added: [(content: String, special: Bool)] = [("<image>", true), ("<pad>", true), ("<|extra|>", false)]

    /// A small seeded corpus of captions, questions, numbers and a few non-ASCII words.
    static func corpus() -> [String] {
        var state: UInt64 = 42
        func pick<T>(_ options: [T]) -> T {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return options[Int((state >> 33) % UInt64(options.count))]
        }
        let subjects = ["The image", "This picture", "A drawing", "The photo"]
        let verbs = ["shows", "contains", "depicts", "has"]
        let colours = ["red", "green", "blue", "yellow", "white"]
        let shapes = ["circle", "square", "triangle", "star"]
        let extras = ["USER: <image>\nWhat is shown? ASSISTANT: A red circle.", "There are 12 lines and 3 dots.",
                      "Café, naïve, über.", "  Two leading spaces\tand a tab.", "The year was 2024!"]
        return (0..<400).map { i in
            i % 7 == 0 ? pick(extras) : "\(pick(subjects)) \(pick(verbs)) a \(pick(colours)) \(pick(shapes))."
        }
    }

    static let probes = [
        "Hello world", "The image shows a red circle.", "a  b   c", "  leading", "trailing  ", " ",
        "line one\nline two", "12345 and 3.14", "Café naïve", "日本語 😀 unseen", "e\u{301} combining",
        "<image>\nDescribe it.", "USER: <image> ASSISTANT: <pad><|extra|>", "tab\tseparated", "\u{1} control",
        "▁ literal metaspace", "\"quoted\" \\ back", "",
    ]

    private func write(_ trained: TrainedBPE) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-trainer-\(UUID().uuidString)")
        try trained.write(to: dir)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func testVocabularyLayoutAndExactSize() throws {
        let trained = BPETrainer(vocabularySize: 400, addedTokens: Self.added).train(texts: Self.corpus())
        XCTAssertEqual(trained.vocabulary.count, 400)
        XCTAssertEqual(Array(trained.vocabulary.prefix(3)), ["<unk>", "<s>", "</s>"])
        XCTAssertEqual(trained.vocabulary[3], "<0x00>")
        XCTAssertEqual(trained.vocabulary[258], "<0xFF>")
        XCTAssertEqual(trained.vocabulary[259].unicodeScalars.count, 1, "the alphabet follows the byte pieces")
        XCTAssertEqual(trained.addedTokens.map(\.id), [400, 401, 402])
        XCTAssertEqual(Set(trained.vocabulary.map { Array($0.unicodeScalars) }.map { $0.map(\.value) }).count, 400,
                       "pieces are distinct")
        for merge in trained.merges {
            XCTAssertFalse(merge.left.unicodeScalars.contains { ("0"..."9").contains($0) }
                           || merge.right.unicodeScalars.contains { ("0"..."9").contains($0) }, "digits never merge: \(merge)")
            XCTAssertLessThanOrEqual((merge.left + merge.right).unicodeScalars.count, 16)
        }

        let tokenizer = try Tokenizer(directory: write(trained))
        XCTAssertEqual(tokenizer.vocabularySize, 403)
        XCTAssertEqual(tokenizer.bosTokenID, 1)
        XCTAssertEqual(tokenizer.eosTokenID, 2)
        XCTAssertEqual(tokenizer.padTokenID, 401)
        XCTAssertEqual(tokenizer.id(of: "<image>"), 400)
    }

    func testWrittenFilesRoundTrip() throws {
        let trained = BPETrainer(vocabularySize: 500, addedTokens: Self.added).train(texts: Self.corpus())
        let tokenizer = try Tokenizer(directory: write(trained))
        // Added tokens and a literal "▁" do not round-trip in HF either (a segment after an added
        // token gets its own "▁"; "▁" decodes to " "): the golden test covers those.
        for text in Self.probes where !text.contains("<") && !text.contains("▁") {
            let ids = tokenizer.encode(text)
            XCTAssertEqual(ids.first, 1, "BOS first for \(text.debugDescription)")
            XCTAssertEqual(tokenizer.decode(ids), text, "round trip of \(text.debugDescription): \(ids)")
        }
        let unseen = tokenizer.encode("😀", addSpecialTokens: false)
        XCTAssertEqual(tokenizer.tokens(for: unseen), ["▁", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"],
                       "an unseen character falls back to its UTF-8 bytes")
        XCTAssertEqual(tokenizer.tokens(for: tokenizer.encode("2024", addSpecialTokens: false)), ["▁", "2", "0", "2", "4"])
    }

    func testDeterministic() throws {
        let texts = Self.corpus()
        let trainer = BPETrainer(vocabularySize: 450, addedTokens: Self.added)
        let a = trainer.train(texts: texts), b = trainer.train(texts: texts)
        XCTAssertEqual(a.tokenizerJSON(), b.tokenizerJSON())
        XCTAssertEqual(a.tokenizerConfigJSON(modelMaxLength: 64), b.tokenizerConfigJSON(modelMaxLength: 64))
        let files = try [write(a), write(b)].map { try Data(contentsOf: $0.appendingPathComponent("tokenizer.json")) }
        XCTAssertEqual(files[0], files[1])
    }

    func testStopsWhenNothingIsLeftToMerge() {
        let trained = BPETrainer(vocabularySize: 1000).train(texts: ["ab ab"])
        // Alphabet ▁, a, b; then "ab", "▁ab": 3 + 256 + 3 + 2.
        XCTAssertEqual(trained.vocabulary.count, 264)
        XCTAssertEqual(trained.merges, [.init(left: "a", right: "b"), .init(left: "▁", right: "ab")])
    }

    func testTiesBreakByMergedStringInScalarOrder() {
        // Every pair of "▁abc" occurs once: "ab" < "bc" < "▁a" (U+2581 sorts after ASCII).
        let trained = BPETrainer(vocabularySize: 259 + 4 + 3).train(texts: ["abc"])
        XCTAssertEqual(Array(trained.vocabulary[259..<263]), ["a", "b", "c", "▁"], "equal counts: scalar order")
        XCTAssertEqual(trained.merges, [.init(left: "a", right: "b"), .init(left: "ab", right: "c"),
                                        .init(left: "▁", right: "abc")])
    }

    func testJSONEscapingOfAnyPiece() throws {
        let texts = ["\"q\" \\b", "tab\tx\u{1}y", "\u{2028}sep", "🇫🇷 e\u{301} é", "e\u{301}e\u{301}e\u{301}e\u{301}"]
        let trained = BPETrainer(vocabularySize: 280, addedTokens: [("<\"quote\">", true)]).train(texts: texts)
        let tokenizer = try Tokenizer(directory: write(trained))
        let object = try JSONSerialization.jsonObject(with: Data(trained.tokenizerJSON().utf8)) as? [String: Any]
        let vocab = (object?["model"] as? [String: Any])?["vocab"] as? [String: Int]
        XCTAssertNotNil(vocab, "tokenizer.json parses")
        XCTAssertFalse(trained.mergesAsStrings, "\"e \u{301}\" is written as a pair")
        XCTAssertEqual(trained.vocabulary.count, 280)
        XCTAssertEqual(tokenizer.vocabularySize, 281, "\"é\" and \"e\u{301}\" are distinct pieces")
        for text in texts {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text)), text)
        }
        let quote = tokenizer.encode("<\"quote\">", addSpecialTokens: false)
        XCTAssertEqual(quote, [280])
        XCTAssertEqual(tokenizer.tokens(for: quote), ["<\"quote\">"])
    }

    func testPiecesKeepToOneScript() throws {
        let texts = Array(repeating: "The star is on the right. It is red, not blue; (center) \"left\" naïve e\u{301}e 日本語のテキスト Привет, мир.", count: 20)
        let split = BPETrainer(vocabularySize: 400).train(texts: texts)
        let pieces = Set(split.vocabulary)
        XCTAssertTrue(pieces.isSuperset(of: ["▁right", "▁red", "▁(", "▁naïve", "▁e\u{301}e", "▁日本語のテキスト", "▁Привет", "▁мир"]),
                      "\(split.vocabulary.suffix(60))")
        for piece in ["▁right.", "▁red,", "center)", "▁(center", "▁мир.", "テキスト▁"] {
            XCTAssertFalse(pieces.contains(piece), "\(piece) mixes scripts")
        }
        let tokenizer = try Tokenizer(directory: write(split))
        XCTAssertEqual(tokenizer.tokens(for: tokenizer.encode("It is red, not blue.", addSpecialTokens: false)),
                       ["▁It", "▁is", "▁red", ",", "▁not", "▁blue", "."])

        let mixed = BPETrainer(vocabularySize: 400, splitByUnicodeScript: false).train(texts: texts)
        XCTAssertTrue(Set(mixed.vocabulary).contains("▁right."), "SentencePiece's split_by_unicode_script=false")
    }

    func testTextInputs() throws {
        XCTAssertEqual(BPETrainingText.lines("a\r\nb\n\nc\n"), ["a", "b", "c"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-input-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("data.json")
        try Data(#"[{"id": 7, "conversations": [{"from": "human", "value": "<image>\nWhat?"}], "caption": "A cat."}]"#.utf8)
            .write(to: file)
        XCTAssertEqual(try BPETrainingText.documents(in: file), ["A cat.", "human", "<image>\nWhat?"])
    }
}
