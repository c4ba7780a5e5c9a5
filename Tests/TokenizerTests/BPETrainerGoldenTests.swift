import Foundation
import Tokenizer
import XCTest

/// Our trainer on `Fixtures/tokenizer/trained/corpus.txt`, read back by our `Tokenizer`, gives
/// exactly the ids HF `transformers.AutoTokenizer` (and raw `tokenizers`) gave for the files
/// the same trainer wrote. Regenerate with `python scripts/fixtures/bpe_trainer.py` if the
/// trainer changes on purpose.
final class BPETrainerGoldenTests: XCTestCase {
    struct Expected: Decodable {
        struct Example: Decodable {
            var text: String
            var ids: [Int]
            var idsNoSpecial: [Int]
            var tokens: [String]
            var decoded: String
            enum CodingKeys: String, CodingKey {
                case text, ids, idsNoSpecial = "ids_no_special", tokens, decoded
            }
        }
        var vocabSize: Int
        var specialAddedTokens: [String]
        var addedTokens: [String]
        var examples: [Example]
        enum CodingKeys: String, CodingKey {
            case vocabSize = "vocab_size", specialAddedTokens = "special_added_tokens", addedTokens = "added_tokens"
            case examples
        }
    }

    func testTrainedTokenizerMatchesHF() throws {
        let dir = TokenizerFixtures.directory("trained")
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        let texts = try BPETrainingText.documents(in: dir.appendingPathComponent("corpus.txt"))
        let added = expected.specialAddedTokens.map { (content: $0, special: true) }
            + expected.addedTokens.map { (content: $0, special: false) }
        let trained = BPETrainer(vocabularySize: expected.vocabSize, addedTokens: added).train(texts: texts)
        XCTAssertEqual(trained.vocabulary.count, expected.vocabSize)

        let tokenizer = try Tokenizer(tokenizerJSON: Data(trained.tokenizerJSON().utf8),
                                      configJSON: Data(trained.tokenizerConfigJSON(modelMaxLength: 4096).utf8),
                                      source: "trained")
        var mismatches = 0
        for example in expected.examples {
            let ids = tokenizer.encode(example.text)
            let noSpecial = tokenizer.encode(example.text, addSpecialTokens: false)
            if ids != example.ids || noSpecial != example.idsNoSpecial { mismatches += 1 }
            XCTAssertEqual(ids, example.ids, "ids of \(example.text.debugDescription)")
            XCTAssertEqual(noSpecial, example.idsNoSpecial, "ids without specials of \(example.text.debugDescription)")
            XCTAssertEqual(tokenizer.tokens(for: noSpecial), example.tokens)
            XCTAssertEqual(tokenizer.decode(ids), example.decoded)
        }
        XCTAssertEqual(mismatches, 0, "stale fixture? regenerate with python scripts/fixtures/bpe_trainer.py")
    }
}
