import Language
import Tensor
import XCTest

/// Prompts prefilled together, and sequences decoded together, give each sequence exactly the
/// logits and cache it gets alone, for every weight type.
final class BatchPrefillTests: XCTestCase {
    let config = LlamaConfiguration(vocabularySize: 96, hiddenSize: 64, intermediateSize: 160, layerCount: 2,
                                    headCount: 4, kvHeadCount: 2, maxPositionEmbeddings: 128)

    func embeddings(_ rows: Int, seed: UInt64) -> [Float] {
        Tensor.uniform([rows, config.hiddenSize], dtype: .f32, seed: seed, scale: 1).toFloatArray()
    }

    func testPromptsTogetherEqualEachAlone() throws {
        // A one-token prompt (the mat-vec path), a prompt after an earlier turn, and longer ones.
        let lengths = [7, 1, 12, 30], earlier = [0, 0, 5, 0]
        for dtype in [DType.f32, .f16, .bf16, .q8_0, .q4_0] {
            let model = LlamaModel.random(config: config, dtype: dtype, seed: 3)
            let prompts = lengths.enumerated().map { embeddings($0.element, seed: UInt64(10 + $0.offset)) }
            func caches() throws -> [KVCache] {
                try earlier.enumerated().map { k, n in
                    let cache = model.makeCache(capacity: 8)
                    if n > 0 { _ = try model.forward(embeddings: embeddings(n, seed: UInt64(50 + k)), cache: cache) }
                    return cache
                }
            }
            let alone = try caches()
            let expected = try zip(prompts, alone).map { try model.forward(embeddings: $0, cache: $1) }
            let together = try caches()
            let logits = try model.prefill(embeddings: prompts, caches: together, scratch: BatchDecodeScratch())
            XCTAssertTrue(logits == expected, "\(dtype): prefilled together differs from alone")
            XCTAssertEqual(together.map(\.count), alone.map(\.count), "\(dtype)")

            // The next token, decoded together and alone, still agrees (so the caches do too).
            let next = [3, 17, 42, 95]
            let stepped = try model.decodeStep(tokens: next, caches: together, scratch: BatchDecodeScratch())
            let single = try zip(next, alone).map { try model.forward(tokens: [$0], cache: $1) }
            XCTAssertTrue(stepped == single, "\(dtype): decoded together differs from alone")
        }
    }

    func testBadPromptsAreRefused() {
        let model = LlamaModel.random(config: config, dtype: .f32, seed: 3)
        let full = KVCache(config: config, capacity: 4, maxCapacity: 8)
        XCTAssertThrowsError(try model.prefill(embeddings: [embeddings(9, seed: 1)], caches: [full], scratch: BatchDecodeScratch())) {
            guard case ModelError.contextOverflow(needed: 9, capacity: 8)? = $0 as? ModelError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try model.prefill(embeddings: [[]], caches: [model.makeCache()], scratch: BatchDecodeScratch()))
    }
}
