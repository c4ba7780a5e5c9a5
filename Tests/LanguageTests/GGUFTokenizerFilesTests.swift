import Checkpoint
import Foundation
import Language
import TestSupport
import Tokenizer
import XCTest

/// The tokenizer files written from a GGUF file's metadata (for `llava convert`) load as a
/// tokenizer that encodes and decodes exactly as the GGUF's own, for both kinds llama.cpp has.
final class GGUFTokenizerFilesTests: XCTestCase {
    func check(gguf: String, corpus: String) throws {
        let file = try GGUFFile(url: Fixtures.url(gguf))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Tokenizer.writeFiles(gguf: file, to: dir)
        let fromGGUF = try Tokenizer(gguf: file), fromFiles = try Tokenizer(directory: dir)
        XCTAssertEqual(fromFiles.vocabularySize, fromGGUF.vocabularySize, gguf)
        XCTAssertEqual(fromFiles.bosTokenID, fromGGUF.bosTokenID, gguf)
        XCTAssertEqual(fromFiles.eosTokenID, fromGGUF.eosTokenID, gguf)
        let texts = try Fixtures.json(corpus, as: GGUFModelTests.Corpus.self).entries.map(\.text)
        var mismatches: [String] = []
        for text in texts {
            let ids = fromGGUF.encode(text)
            if fromFiles.encode(text) != ids || fromFiles.decode(ids) != fromGGUF.decode(ids) { mismatches.append(text) }
        }
        XCTAssertEqual(mismatches, [], "\(gguf): \(mismatches.count) of \(texts.count) texts differ")
        // transformers reads the post-processor, not the flags: it must add BOS as the GGUF does.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("tokenizer.json"))) as? [String: Any])
        let single = (json["post_processor"] as? [String: Any])?["single"] as? [[String: Any]]
        XCTAssertEqual(single?.first?.keys.first == "SpecialToken", fromGGUF.encode("a").first == fromGGUF.bosTokenID, gguf)
    }

    /// `tokenizer.chat_template` goes into tokenizer_config.json, where transformers reads it.
    func testChatTemplateIsKept() throws {
        let source = try GGUFFile(url: Fixtures.url("gguf/llama-q4_0.gguf"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-template-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var writer = GGUFWriter()
        for (key, value) in source.metadata.sorted(by: { $0.key < $1.key }) where key.hasPrefix("tokenizer.") { writer.add(key, value) }
        let template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        writer.add("tokenizer.chat_template", .string(template))
        let file = dir.appendingPathComponent("vocab.gguf")
        try writer.write(to: file)
        try Tokenizer.writeFiles(gguf: GGUFFile(url: file), to: dir)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("tokenizer_config.json"))) as? [String: Any])
        XCTAssertEqual(config["chat_template"] as? String, template)
        XCTAssertEqual(config["tokenizer_class"] as? String, "PreTrainedTokenizerFast")
    }

    func testSentencePieceKind() throws { try check(gguf: "gguf/llama-q4_0.gguf", corpus: "tokenizer/legacy/corpus.json") }

    func testByteLevelKind() throws { try check(gguf: "gguf/vocab-llama3.gguf", corpus: "tokenizer/llama3/corpus.json") }
}
