import Checkpoint
import Foundation
import Language
import Tensor
import TestSupport
import Tokenizer
import XCTest

/// A model read from GGUF runs exactly as the same weights read from safetensors, and its
/// tokenizer, rebuilt from the GGUF metadata, encodes as the original tokenizer.json does.
final class GGUFModelTests: XCTestCase {
    struct Corpus: Decodable {
        struct Entry: Decodable { let text: String; let ids: [Int] }
        let entries: [Entry]
    }

    /// F16, Q8_0 and Q4_0 files give the greedy tokens and logits of their dequantised twin
    /// (interleaved Q4_0's prompt within the rounding of its quantised activations).
    func testGreedyTokensEqualTheDequantizedSafetensors() throws {
        for type in ["f16", "q8_0", "q4_0"] {
            let file = try GGUFFile(url: Fixtures.url("gguf/llama-\(type).gguf"))
            let gguf = try LlamaModel(gguf: file)
            let reference = try LlamaModel(directory: Fixtures.url("gguf/llama-\(type)-dequantized"))
            // Q8_0/Q4_0 stay blocks (the decode kernels read them as they are; Q4_0 rows may be
            // interleaved for this CPU's kernel); F16 stays F16.
            XCTAssertEqual(gguf.weights.layers[0].wq.inRowOrder().dtype.rawValue.lowercased(), type)
            XCTAssertEqual(gguf.weights.layers[0].down.inRowOrder().dtype.rawValue.lowercased(), type)
            XCTAssertEqual(gguf.config.hiddenSize, reference.config.hiddenSize)
            XCTAssertEqual(gguf.config.kvHeadCount, reference.config.kvHeadCount)
            XCTAssertEqual(gguf.config.vocabularySize, reference.config.vocabularySize)
            let tokenizer = try Tokenizer(gguf: file)
            let prompt = tokenizer.encode("Hello world, the red star")
            let parameters = GenerationParameters(maxNewTokens: 24, stopTokenIDs: [])
            // The same f32 cache on both sides, so that only the weights' storage differs.
            let f32Cache = { (model: LlamaModel) in KVCache(config: model.config, capacity: 8, elementType: .f32) }
            let ours = try TextGenerator(model: gguf, tokenizer: tokenizer)
                .generate(prompt: prompt, parameters: parameters, cache: f32Cache(gguf))
            let theirs = try TextGenerator(model: reference, tokenizer: tokenizer)
                .generate(prompt: prompt, parameters: parameters, cache: f32Cache(reference))
            XCTAssertEqual(ours.tokenIDs, theirs.tokenIDs, type)
            let a = try gguf.forward(tokens: prompt, cache: f32Cache(gguf), logits: .all)
            let b = try reference.forward(tokens: prompt, cache: reference.makeCache(), logits: .all)
            // A prompt on interleaved Q4_0 rows runs the integer GEMM on Q8_0-quantised
            // activations, as decode does, not SGEMM on the dequantised weight: its logits are the
            // twin's only within the activations' rounding, which this random model amplifies
            // layer after layer. Every other prompt (interleaved Q8_0's too) is the twin's to 1e-4.
            let layout = gguf.weights.layers[0].wq.dtype
            let interleaved = layout.interleavedRows > 1 && layout != .q8_0x8
            XCTAssertLessThan(maxAbsDifference(a, b), interleaved ? 0.6 : 1e-4, "\(type): \(differenceReport(a, b))")
            if interleaved { try checkPrefillIsDecode(gguf, prompt: prompt, type: type) }
            // Quantised models keep f16 keys and values by default (as llama.cpp does); that only
            // rounds them (attention on f16 rows is exact: KernelTests), a small change in the logits.
            XCTAssertEqual(gguf.cacheElementType, type == "f16" ? .f32 : .f16)
            XCTAssertEqual(reference.cacheElementType, .f32)
            if type != "f16" {
                let c = try gguf.forward(tokens: prompt, cache: gguf.makeCache(), logits: .all)
                XCTAssertNotEqual(a, c)
                // (Quantised activations pass the rounding's small changes on in steps: 0.3.)
                XCTAssertLessThan(maxAbsDifference(a, c), interleaved ? 0.3 : 2e-2, "\(type): \(differenceReport(a, c))")
            }
        }
    }

    /// The prompt's first position, whose attention is its own value alone, computes in every
    /// block and in the final norm exactly what decoding that token alone computes: every
    /// matrix of the blocks is interleaved, so both run each row through the same integer
    /// arithmetic. (The logits are not compared: the 703-row head cannot be interleaved, so the
    /// prompt widens it for SGEMM on f32 activations while decode quantises them.)
    private func checkPrefillIsDecode(_ model: LlamaModel, prompt: [Int], type: String) throws {
        let d = model.config.hiddenSize, layers = model.config.layerCount
        func hidden(_ tokens: [Int]) throws -> [[Float]] {
            var seen = [[Float]](repeating: [], count: layers + 1)
            let cache = KVCache(config: model.config, capacity: 8, elementType: .f32)
            _ = try model.forward(tokens: tokens, cache: cache, logits: .all) { layer, h in
                seen[layer] = Array(UnsafeBufferPointer(start: h, count: d))   // position 0
            }
            return seen
        }
        let prefill = try hidden(prompt), decode = try hidden([prompt[0]])
        for layer in 0...layers {
            XCTAssertEqual(prefill[layer].map(\.bitPattern), decode[layer].map(\.bitPattern), "\(type) layer \(layer)")
        }
    }

    func testSentencePieceTokenizerFromMetadataEncodesAsTheOriginal() throws {
        let fromGGUF = try Tokenizer(gguf: GGUFFile(url: Fixtures.url("gguf/llama-q4_0.gguf")))
        let original = try Tokenizer(directory: Fixtures.url("llama/mha"))
        let corpus = try Fixtures.json("tokenizer/legacy/corpus.json", as: Corpus.self)
        XCTAssertEqual(fromGGUF.vocabularySize, original.vocabularySize)
        XCTAssertEqual(fromGGUF.bosTokenID, original.bosTokenID)
        XCTAssertEqual(fromGGUF.eosTokenID, original.eosTokenID)
        var mismatches: [String] = []
        for e in corpus.entries {
            let ids = fromGGUF.encode(e.text)
            if ids != e.ids { mismatches.append(e.text) }
            XCTAssertEqual(fromGGUF.decode(ids), original.decode(ids), e.text)
        }
        XCTAssertEqual(mismatches, [], "\(mismatches.count) of \(corpus.entries.count) texts encode differently")
    }
}

extension GGUFModelTests {
    func testByteLevelTokenizerFromMetadataEncodesAsTheOriginal() throws {
        let fromGGUF = try Tokenizer(gguf: GGUFFile(url: Fixtures.url("gguf/vocab-llama3.gguf")))
        let original = try Tokenizer(directory: Fixtures.url("tokenizer/llama3"))
        let corpus = try Fixtures.json("tokenizer/llama3/corpus.json", as: Corpus.self)
        XCTAssertEqual(fromGGUF.vocabularySize, original.vocabularySize)
        // The fixture's tokenizer.json applies NFC, which GGUF cannot express (llama.cpp does not
        // normalise); texts that NFC changes are left out.
        let unchangedByNFC = corpus.entries.filter {
            Array($0.text.unicodeScalars) == Array($0.text.precomposedStringWithCanonicalMapping.unicodeScalars)
        }
        XCTAssertGreaterThan(unchangedByNFC.count, 80)
        var mismatches: [String] = []
        for e in unchangedByNFC where fromGGUF.encode(e.text) != original.encode(e.text) { mismatches.append(e.text) }
        XCTAssertEqual(mismatches, [], "\(mismatches.count) of \(unchangedByNFC.count) texts encode differently")
        for e in corpus.entries.prefix(20) { XCTAssertEqual(fromGGUF.decode(e.ids), original.decode(e.ids)) }
    }

    func testUnsupportedArchitectureIsNamed() throws {
        let file = try GGUFFile(url: Fixtures.url("gguf/types.gguf"))
        XCTAssertThrowsError(try LlamaModel(gguf: file)) { error in
            XCTAssertTrue("\(error)".contains("llama."), "\(error)")
        }
    }
}
