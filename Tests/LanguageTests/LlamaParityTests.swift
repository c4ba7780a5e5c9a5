import Checkpoint
import Foundation
import Language
import Tensor
import TestSupport
import Tokenizer
import XCTest

/// The decoder against transformers on the tiny fixture models (scripts/fixtures/llama.py).
///
/// Tolerances, f32 compute: hidden states and logits agree to 1e-4 max-abs (values are O(1–10);
/// the only differences are summation order in GEMMs, reductions and exp/sin/cos rounding).
/// Greedy tokens compare exactly. If a fixture looks stale, regenerate with scripts/make_fixtures.sh.
final class LlamaParityTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable {
            let prompt: String
            let input_ids: [Int]
            let greedy_f32: [Int]
            let greedy_f16: [Int]
        }
        let new_tokens: Int
        let layers: Int
        let cases: [Case]
    }

    static let models = ["mha", "gqa"]
    static let tolerance: Float = 1e-4

    func reference(_ name: String) throws -> Reference {
        try Fixtures.json("llama/\(name).reference.json")
    }

    func testHiddenStatesAndLogitsMatchTransformers() throws {
        for name in Self.models {
            for tag in ["f32", "f16"] {
                let dir = Fixtures.url("llama/\(tag == "f32" ? name : name + "-f16")")
                let model = try LlamaModel(directory: dir)
                let ref = try reference(name)
                let dump = try Fixtures.tensors("llama/\(name).reference.safetensors")
                for (i, c) in ref.cases.enumerated() {
                    var hidden: [Int: [Float]] = [:]
                    let d = model.config.hiddenSize, t = c.input_ids.count
                    let logits = try model.forward(tokens: c.input_ids, cache: model.makeCache(), logits: .all) { l, h in
                        hidden[l] = Array(UnsafeBufferPointer(start: h, count: t * d))
                    }
                    for l in 0...ref.layers {
                        let expected = try dump.tensor("\(tag).\(i).hidden.\(l)")
                        XCTAssertEqual(expected.shape, [t, d])
                        let got = try XCTUnwrap(hidden[l])
                        XCTAssertLessThan(maxAbsDifference(got, expected.toFloatArray()), Self.tolerance,
                                          "\(name) \(tag) case \(i) layer \(l): \(differenceReport(got, expected.toFloatArray()))")
                    }
                    let expected = try dump.tensor("\(tag).\(i).logits")
                    XCTAssertEqual(expected.shape, [t, model.config.vocabularySize])
                    XCTAssertLessThan(maxAbsDifference(logits, expected.toFloatArray()), Self.tolerance,
                                      "\(name) \(tag) case \(i) logits: \(differenceReport(logits, expected.toFloatArray()))")
                }
            }
        }
    }

    func testPromptIDsMatchTheReferenceTokenizer() throws {
        for name in Self.models {
            let tokenizer = try Tokenizer(directory: Fixtures.url("llama/\(name)"))
            for c in try reference(name).cases {
                XCTAssertEqual(tokenizer.encode(c.prompt), c.input_ids, "\(name): \(c.prompt)")
            }
        }
    }

    func testGreedyTokensEqualTransformers() throws {
        for name in Self.models {
            for tag in ["f32", "f16"] {
                let dir = Fixtures.url("llama/\(tag == "f32" ? name : name + "-f16")")
                let generator = TextGenerator(model: try LlamaModel(directory: dir),
                                              tokenizer: try Tokenizer(directory: dir))
                let ref = try reference(name)
                for c in ref.cases {
                    let expected = tag == "f32" ? c.greedy_f32 : c.greedy_f16
                    let result = try generator.generate(prompt: c.input_ids,
                                                        parameters: GenerationParameters(maxNewTokens: ref.new_tokens))
                    XCTAssertGreaterThanOrEqual(expected.count, 32)
                    XCTAssertEqual(result.tokenIDs, expected, "\(name) \(tag): \(c.prompt)")
                }
            }
        }
    }

    /// An answer that fills the context ends there with finish reason "length", keeping its
    /// tokens (the greedy ones), instead of failing; a prompt that does not fit still fails.
    func testFullContextEndsTheAnswerWithLength() throws {
        let name = Self.models[0]
        let dir = Fixtures.url("llama/\(name)")
        let model = try LlamaModel(directory: dir)
        let generator = TextGenerator(model: model, tokenizer: try Tokenizer(directory: dir))
        let c = try reference(name).cases[0]
        let room = 6
        let cache = KVCache(config: model.config, capacity: 2, maxCapacity: c.input_ids.count + room)
        let result = try generator.generate(prompt: c.input_ids, parameters: GenerationParameters(maxNewTokens: 50, stopTokenIDs: []),
                                            cache: cache)
        XCTAssertEqual(result.finishReason, .length)
        XCTAssertEqual(result.tokenIDs.count, room + 1)  // the last token needs no room: nothing comes after it
        XCTAssertEqual(Array(result.tokenIDs.prefix(room)), Array(c.greedy_f32.prefix(room)))
        let small = KVCache(config: model.config, capacity: 2, maxCapacity: c.input_ids.count - 1)
        XCTAssertThrowsError(try generator.generate(prompt: c.input_ids, parameters: GenerationParameters(maxNewTokens: 5), cache: small))
    }

    /// Decoding one token at a time through the cache gives the logits of one full forward.
    func testKVCacheDecodingEqualsFullForward() throws {
        for name in Self.models {
            let model = try LlamaModel(directory: Fixtures.url("llama/\(name)"))
            let c = try reference(name).cases[0]
            let tokens = c.input_ids + c.greedy_f32.prefix(8)
            let v = model.config.vocabularySize
            let full = try model.forward(tokens: tokens, cache: model.makeCache(capacity: 4), logits: .all)
            let cache = model.makeCache(capacity: 2)  // forces the cache to grow on the way
            var split = try model.forward(tokens: Array(tokens.prefix(5)), cache: cache, logits: .all)
            for t in tokens.dropFirst(5) { split += try model.forward(tokens: [t], cache: cache, logits: .last) }
            XCTAssertEqual(split.count, tokens.count * v)
            // Same math, different summation order (GEMM vs dot products): f32 rounding only.
            XCTAssertLessThan(maxAbsDifference(split, full), 1e-4, "\(name): \(differenceReport(split, full))")
        }
    }
}
