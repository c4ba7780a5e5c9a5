import Foundation
import Tokenizer
import XCTest

/// Bad input gives a typed error that names the file and the key.
final class ErrorTests: XCTestCase {
    private func minimalJSON(model: String) -> Data {
        Data("""
        {"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
         "model": \(model), "decoder": null, "post_processor": null}
        """.utf8)
    }

    private let bpe = #"{"type": "BPE", "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3}, "merges": %@, "unk_token": "<unk>"}"#

    private func load(_ data: Data, source: String = "/models/x/tokenizer.json") throws -> Tokenizer {
        try Tokenizer(tokenizerJSON: data, configJSON: nil, source: source)
    }

    private func assertError(_ body: @autoclosure () throws -> Any, mentions words: [String],
                             file: StaticString = #filePath, line: UInt = #line) -> TokenizerError? {
        do {
            _ = try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as TokenizerError {
            for word in words {
                XCTAssertTrue(error.description.contains(word), "\"\(error)\" should mention \(word)", file: file, line: line)
            }
            return error
        } catch {
            XCTFail("untyped error \(error)", file: file, line: line)
        }
        return nil
    }

    func testMissingFile() {
        let directory = URL(fileURLWithPath: "/nonexistent/model")
        let error = assertError(try Tokenizer(directory: directory), mentions: ["/nonexistent/model/tokenizer.json"])
        XCTAssertEqual(error, .missingFile(path: "/nonexistent/model/tokenizer.json"))
    }

    func testInvalidJSON() {
        _ = assertError(try load(Data("{ not json".utf8)), mentions: ["/models/x/tokenizer.json", "invalid JSON"])
    }

    func testInvalidConfigJSONNamesConfigFile() throws {
        let json = try TokenizerFixtures.data("legacy", "tokenizer.json")
        _ = assertError(try Tokenizer(tokenizerJSON: json, configJSON: Data("[1,".utf8), source: "/m"),
                        mentions: ["/m/tokenizer_config.json"])
    }

    func testUnsupportedModelTypes() {
        let wordPiece = #"{"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"}"#
        let unigram = #"{"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 0}"#
        for (model, name) in [(wordPiece, "WordPiece"), (unigram, "Unigram")] {
            let error = assertError(try load(minimalJSON(model: model)), mentions: ["tokenizer.json", "model.type", name])
            XCTAssertEqual(error, .unsupported(file: "/models/x/tokenizer.json", key: "model.type", value: name))
        }
    }

    func testUnsupportedPreTokenizerNamesKey() {
        var text = String(decoding: minimalJSON(model: String(format: bpe, "[]")), as: UTF8.self)
        text = text.replacingOccurrences(of: #""pre_tokenizer": null"#, with: #""pre_tokenizer": {"type": "BertPreTokenizer"}"#)
        _ = assertError(try load(Data(text.utf8)), mentions: ["pre_tokenizer.type", "BertPreTokenizer"])
    }

    func testMissingVocabAndMerges() {
        _ = assertError(try load(minimalJSON(model: #"{"type": "BPE", "merges": []}"#)), mentions: ["model.vocab", "missing"])
        _ = assertError(try load(minimalJSON(model: #"{"type": "BPE", "vocab": {}}"#)), mentions: ["model.merges", "missing"])
    }

    func testBadMergeEntry() {
        let error = assertError(try load(minimalJSON(model: String(format: bpe, #"["a b", "a b c"]"#))),
                                mentions: ["tokenizer.json", "model.merges[1]"])
        XCTAssertEqual(error, .badMergeEntry(file: "/models/x/tokenizer.json", index: 1, entry: "\"a b c\""))
        _ = assertError(try load(minimalJSON(model: String(format: bpe, #"[["a"]]"#))), mentions: ["model.merges[0]"])
    }

    func testMergeNamingUnknownToken() {
        let error = assertError(try load(minimalJSON(model: String(format: bpe, #"[["a", "b"], ["a", "zz"]]"#))),
                                mentions: ["tokenizer.json", "model.merges[1]", "zz"])
        XCTAssertEqual(error, .unknownTokenInMerge(file: "/models/x/tokenizer.json", index: 1, token: "zz"))
    }

    func testMinimalModelEncodes() throws {
        let tokenizer = try load(minimalJSON(model: String(format: bpe, #"["a b"]"#)))
        XCTAssertEqual(tokenizer.encode("abba", addSpecialTokens: false), [3, 2, 1])
        XCTAssertEqual(tokenizer.encode("axb", addSpecialTokens: false), [1, 0, 2], "x is unknown")
        XCTAssertFalse(tokenizer.addsBOS)
    }
}
