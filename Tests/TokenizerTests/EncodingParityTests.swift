import Tokenizer
import XCTest

/// Ids and pieces equal HF transformers' exactly, on the whole corpus, in both spellings.
final class EncodingParityTests: XCTestCase {
    func testIDsWithSpecialTokensMatchReference() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for entry in try TokenizerFixtures.corpus(spelling).entries {
                assertIDs(tokenizer.encode(entry.text), entry.ids, text: entry.text, "\(spelling) ids")
            }
        }
    }

    func testIDsWithoutSpecialTokensMatchReference() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for entry in try TokenizerFixtures.corpus(spelling).entries {
                assertIDs(tokenizer.encode(entry.text, addSpecialTokens: false), entry.idsNoSpecial,
                          text: entry.text, "\(spelling) ids_no_special")
            }
        }
    }

    func testPiecesMatchReference() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for entry in try TokenizerFixtures.corpus(spelling).entries {
                XCTAssertEqual(tokenizer.tokens(for: entry.ids), entry.tokens, "\(spelling) \(entry.text.debugDescription)")
            }
        }
    }

    func testSpellingsReallyDiffer() throws {
        let legacy = try TokenizerFixtures.tokenizer("legacy")
        let metaspace = try TokenizerFixtures.tokenizer("metaspace")
        let text = "text<image>text"
        XCTAssertNotEqual(legacy.encode(text), metaspace.encode(text), "legacy prepends ▁ after every added token")
    }

    func testAddEOSFromSecondConfig() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try Tokenizer(tokenizerJSON: TokenizerFixtures.data(spelling, "tokenizer.json"),
                                          configJSON: TokenizerFixtures.data(spelling, "tokenizer_config_eos.json"),
                                          source: spelling)
            let example = try TokenizerFixtures.corpus(spelling).addEOSExample
            XCTAssertTrue(tokenizer.addsBOS && tokenizer.addsEOS)
            assertIDs(tokenizer.encode(example.text), example.ids, text: example.text, "\(spelling) add_eos ids")
        }
    }

    /// Without tokenizer_config.json the post-processor's TemplateProcessing ("<s> $A") decides.
    func testPostProcessorDecidesWithoutConfig() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try Tokenizer(tokenizerJSON: TokenizerFixtures.data(spelling, "tokenizer.json"),
                                          configJSON: nil, source: spelling)
            XCTAssertTrue(tokenizer.addsBOS)
            XCTAssertFalse(tokenizer.addsEOS)
            for entry in try TokenizerFixtures.corpus(spelling).entries.prefix(10) {
                assertIDs(tokenizer.encode(entry.text), entry.ids, text: entry.text, "\(spelling) ids, no config")
            }
        }
    }

    func testVocabularyQueries() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("legacy")
        XCTAssertEqual(tokenizer.unknownTokenID, 0)
        XCTAssertEqual(tokenizer.bosTokenID, 1)
        XCTAssertEqual(tokenizer.eosTokenID, 2)
        XCTAssertEqual(tokenizer.id(of: "<image>"), 700, "<image> is appended at id = base vocabulary size")
        XCTAssertEqual(tokenizer.padTokenID, tokenizer.id(of: "<pad>"))
        XCTAssertEqual(tokenizer.vocabularySize, 703)
        XCTAssertEqual(tokenizer.token(of: 700), "<image>")
        XCTAssertEqual(tokenizer.id(of: "<0x0A>").flatMap(tokenizer.token(of:)), "<0x0A>")
        XCTAssertTrue(tokenizer.isSpecial(700))
        XCTAssertFalse(tokenizer.isSpecial(tokenizer.id(of: "<|extra|>")!), "<|extra|> is added but not special")
        XCTAssertNil(tokenizer.token(of: 10_000))
    }

    /// A long text is one BPE word in these spellings; this must stay fast (heap, not O(n²)).
    func testLongTextEncodesAndRoundTrips() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("metaspace")
        let text = String(repeating: "The image shows a red circle on the left, café 😀. ", count: 400)
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        XCTAssertEqual(tokenizer.decode(ids), text)
    }
}
