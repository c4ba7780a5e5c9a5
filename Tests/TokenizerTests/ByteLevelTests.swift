import Foundation
import Tokenizer
import XCTest

/// Byte-level BPE (GPT-2 and LLaMA-3 layouts): ids, pieces and decodes equal HF transformers'
/// on the whole corpus; streaming never splits a character although tokens end mid-character.
final class ByteLevelTests: XCTestCase {
    func testIDsMatchReference() throws {
        for spelling in TokenizerFixtures.byteLevelSpellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            let entries = try TokenizerFixtures.corpus(spelling).entries
            XCTAssertEqual(entries.count, 91)
            for entry in entries {
                assertIDs(tokenizer.encode(entry.text), entry.ids, text: entry.text, "\(spelling) ids")
                assertIDs(tokenizer.encode(entry.text, addSpecialTokens: false), entry.idsNoSpecial,
                          text: entry.text, "\(spelling) ids_no_special")
                XCTAssertEqual(tokenizer.tokens(for: entry.ids), entry.tokens, "\(spelling) \(entry.text.debugDescription)")
            }
        }
    }

    func testDecodeMatchesReference() throws {
        for spelling in TokenizerFixtures.byteLevelSpellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for entry in try TokenizerFixtures.corpus(spelling).entries {
                XCTAssertEqual(tokenizer.decode(entry.ids), entry.decoded, "\(spelling) \(entry.text.debugDescription)")
                XCTAssertEqual(tokenizer.decode(entry.ids, skipSpecialTokens: false), entry.decodedWithSpecial,
                               "\(spelling) with specials \(entry.text.debugDescription)")
                if entry.roundtrip { XCTAssertEqual(tokenizer.decode(tokenizer.encode(entry.text)), entry.text) }
            }
        }
    }

    func testSpecialTokensAndTemplate() throws {
        let gpt2 = try TokenizerFixtures.tokenizer("bytelevel")
        XCTAssertFalse(gpt2.addsBOS, "GPT-2's post-processor is ByteLevel only")
        XCTAssertEqual(gpt2.bosTokenID, gpt2.id(of: "<|endoftext|>"))
        let llama3 = try TokenizerFixtures.tokenizer("llama3")
        XCTAssertTrue(llama3.addsBOS, "Sequence[ByteLevel, TemplateProcessing] puts <|begin_of_text|> first")
        XCTAssertEqual(llama3.bosTokenID, llama3.id(of: "<|begin_of_text|>"))
        XCTAssertEqual(llama3.eosTokenID, llama3.id(of: "<|eot_id|>"))
        XCTAssertEqual(llama3.token(of: llama3.id(of: "Ġ")!), "Ġ", "a space is U+0120 in the byte alphabet")
    }

    /// The same model under other pre-tokenizers: Digits, add_prefix_space, every Split
    /// behaviour, invert, String patterns, and the GPT-2 / Qwen2 regexes through Split.
    func testPreTokenizerVariantsMatchReference() throws {
        let directory = TokenizerFixtures.directory("bytelevel")
        let data = try Data(contentsOf: directory.appendingPathComponent("variants.json"))
        let variants = try JSONDecoder().decode([String: [Example]].self, from: data)
        XCTAssertEqual(variants.count, 12)
        for (name, examples) in variants.sorted(by: { $0.key < $1.key }) {
            let tokenizer = try Tokenizer(directory: directory.appendingPathComponent("variants/\(name)"))
            for example in examples {
                assertIDs(tokenizer.encode(example.text), example.ids, text: example.text, "variant \(name)")
            }
        }
    }

    struct Example: Decodable { var text: String; var ids: [Int] }

    /// A long text has thousands of regex words; scanning and BPE must stay linear-ish.
    func testLongTextEncodesAndRoundTrips() throws {
        for spelling in TokenizerFixtures.byteLevelSpellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            let text = String(repeating: "The image shows 12345 red circles, café 😀 — I'M here.\n\n", count: 400)
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            XCTAssertEqual(tokenizer.decode(ids), text, spelling)
        }
    }

    func testUnknownRegexIsUnsupported() throws {
        var text = String(decoding: try TokenizerFixtures.data("llama3", "tokenizer.json"), as: UTF8.self)
        text = text.replacingOccurrences(of: #"\\p{N}{1,3}"#, with: #"\\p{N}{1,4}"#)
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(text.utf8), configJSON: nil, source: "/m")) { error in
            guard case .unsupported(let file, let key, let value) = error as? TokenizerError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(file, "/m/tokenizer.json")
            XCTAssertEqual(key, "pre_tokenizer.pretokenizers[0].pattern.Regex")
            XCTAssertTrue(value.contains(#"\p{N}{1,4}"#), value)
        }
    }

    // MARK: - streaming

    private func stream(_ ids: [Int], _ tokenizer: Tokenizer, skipSpecialTokens: Bool = true) -> (chunks: [String], rest: String) {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skipSpecialTokens)
        let chunks = ids.map { detokenizer.append($0) }
        return (chunks, detokenizer.finish())
    }

    /// Chunks concatenate to `decode`, and no chunk shows U+FFFD for a character that the full
    /// decode has whole.
    private func check(_ ids: [Int], _ tokenizer: Tokenizer, skipSpecialTokens: Bool, _ label: String) {
        let full = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        let (chunks, rest) = stream(ids, tokenizer, skipSpecialTokens: skipSpecialTokens)
        XCTAssertEqual(chunks.joined() + rest, full, "\(label): ids \(ids), chunks \(chunks) + \(rest.debugDescription)")
        let replacements = full.unicodeScalars.filter { $0 == "\u{FFFD}" }.count
        XCTAssertEqual((chunks + [rest]).joined().unicodeScalars.filter { $0 == "\u{FFFD}" }.count, replacements, label)
    }

    func testStreamingConcatenatesToDecodeOnCorpus() throws {
        for spelling in TokenizerFixtures.byteLevelSpellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            var splitCharacters = 0
            for entry in try TokenizerFixtures.corpus(spelling).entries {
                check(entry.ids, tokenizer, skipSpecialTokens: true, "\(spelling) \(entry.text.debugDescription)")
                check(entry.ids, tokenizer, skipSpecialTokens: false, "\(spelling) \(entry.text.debugDescription)")
                splitCharacters += entry.ids.filter { tokenizer.decode([$0]).contains("\u{FFFD}") }.count
            }
            XCTAssertGreaterThan(splitCharacters, 20, "\(spelling): the corpus should have tokens ending mid-character")
        }
    }

    /// Each emitted prefix is a prefix of HF's decode of the ids so far, also where byte pieces
    /// never form a character (the reference decodes those to U+FFFD as Rust's from_utf8_lossy).
    func testStreamingFollowsReferencePrefixDecodes() throws {
        for spelling in TokenizerFixtures.byteLevelSpellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for (index, reference) in try TokenizerFixtures.corpus(spelling).streaming.enumerated() {
                for i in 0...reference.ids.count {
                    XCTAssertEqual(tokenizer.decode(Array(reference.ids[..<i])), reference.prefixDecodes[i],
                                   "\(spelling) stream \(index) prefix \(i)")
                    XCTAssertEqual(tokenizer.decode(Array(reference.ids[..<i]), skipSpecialTokens: false),
                                   reference.prefixDecodesWithSpecial[i], "\(spelling) stream \(index) prefix \(i)")
                }
                let (chunks, rest) = stream(reference.ids, tokenizer)
                var emitted = ""
                for (i, chunk) in chunks.enumerated() {
                    emitted += chunk
                    XCTAssertTrue(reference.prefixDecodes[i + 1].unicodeScalars.starts(with: emitted.unicodeScalars),
                                  "\(spelling) stream \(index) step \(i): \(emitted.debugDescription)")
                }
                XCTAssertEqual(emitted + rest, reference.prefixDecodes.last, "\(spelling) stream \(index)")
            }
        }
    }

    func testSplitCharacterIsHeldBack() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("bytelevel")
        // 😀 is F0 9F 98 80: one byte piece each ("ð", "Ł", "ĺ", "Ģ" in the byte alphabet).
        let bytes = ["ð", "Ł", "ĺ", "Ģ"].compactMap(tokenizer.id(of:))
        XCTAssertEqual(bytes.count, 4)
        let word = tokenizer.encode("red", addSpecialTokens: false)
        let (chunks, rest) = stream(word + bytes + word, tokenizer)
        XCTAssertEqual(Array(chunks.suffix(word.count + 4)).joined(), "😀red")
        XCTAssertEqual(Array(chunks.suffix(word.count + 4).prefix(3)), ["", "", ""], "the character is unfinished")
        XCTAssertEqual(rest, "")
    }

    /// Random ids, half of them single-byte pieces, so characters start and break often.
    func testRandomSequencesConcatenate() throws {
        var generator = SplitMix64(seed: 11)
        for spelling in TokenizerFixtures.byteLevelSpellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            let bytePieces = (0..<tokenizer.vocabularySize).filter { tokenizer.token(of: $0)?.unicodeScalars.count == 1 }
            for _ in 0..<500 {
                let ids = (0..<Int.random(in: 1...20, using: &generator)).map { _ in
                    Bool.random(using: &generator) ? bytePieces.randomElement(using: &generator)!
                        : Int.random(in: 0..<(tokenizer.vocabularySize + 2), using: &generator)
                }
                check(ids, tokenizer, skipSpecialTokens: true, spelling)
                check(ids, tokenizer, skipSpecialTokens: false, spelling)
            }
        }
    }
}
