import Checkpoint
import Foundation
import Tensor

// Shape legend: T new tokens, D hidden size, F MLP size, H query heads,
// G key/value heads, E head dimension, V vocabulary.

/// A LLaMA-family decoder (immutable, shareable; per-sequence state lives in a `KVCache`): RMSNorm, rotary embeddings (HF convention), grouped-query
/// attention with a KV cache, SwiGLU MLP, tied or untied output head.
///
/// ```swift
/// let model = try LlamaModel(directory: URL(fileURLWithPath: "/models/llama"))
/// let cache = model.makeCache()
/// let logits = try model.forward(tokens: [1, 15043], cache: cache)   // (V) of the last token
/// ```
public final class LlamaModel: @unchecked Sendable {
    public let config: LlamaConfiguration
    public let weights: LlamaWeights
    public let rope: RotaryEmbedding

    /// Q4_0 and Q4_K matrices are rearranged for this CPU's decode kernels as the model is built
    /// (`LlamaWeights.interleavedForDecode`); every other weight is used where it lies.
    public init(config: LlamaConfiguration, weights: LlamaWeights) {
        self.config = config
        self.weights = weights.interleavedForDecode()
        rope = RotaryEmbedding(headDim: config.headDim, theta: config.ropeTheta,
                               linearScaling: config.ropeLinearFactor)
    }

    /// Loads `config.json` and the safetensors weights (one file or sharded) of `directory`.
    public convenience init(directory: URL) throws {
        let config = try LlamaConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        let store = try WeightStore(directory: directory)
        try self.init(config: config, weights: LlamaWeights(store: store, config: config, source: directory.path))
    }

    /// The cache a sequence of this model gets: `KVCache.elementTypeOverride` when set (the
    /// CLI's `--cache-type`); otherwise f16 rows when the matrices are quantised, as llama.cpp
    /// keeps them for the same files (half the bytes read per decoded token), and f32 otherwise,
    /// so f32, f16 and bf16 checkpoints compute exactly as they always have.
    public var cacheElementType: DType {
        KVCache.elementTypeOverride ?? (weights.layers.first?.wq.dtype.isQuantized == true ? .f16 : .f32)
    }

    public func makeCache(capacity: Int = 256, maxCapacity: Int? = nil) -> KVCache {
        KVCache(config: config, capacity: capacity, maxCapacity: maxCapacity, elementType: cacheElementType)
    }

    /// Which logits a forward returns.
    public enum Logits { case none, last, all }

    /// Runs `tokens` at the cache's next positions and appends their keys/values.
    /// Returns (V) logits of the last token, (T, V) of all tokens, or nothing.
    public func forward(tokens: [Int], cache: KVCache, logits: Logits = .last,
                        observe: ((Int, UnsafePointer<Float>) -> Void)? = nil) throws -> [Float] {
        guard !tokens.isEmpty else { throw ModelError.emptyPrompt }
        for id in tokens where id < 0 || id >= config.vocabularySize {
            throw ModelError.tokenOutOfRange(id: id, vocabularySize: config.vocabularySize)
        }
        let d = config.hiddenSize
        var x = [Float](repeating: 0, count: tokens.count * d)
        x.withUnsafeMutableBufferPointer { embed(tokens, into: $0.baseAddress!) }
        return try forward(embeddings: x, cache: cache, logits: logits, observe: observe)
    }

    /// Copies the embedding rows of `tokens` into `out` (T, D), widening to f32.
    public func embed(_ tokens: [Int], into out: UnsafeMutablePointer<Float>) {
        let d = config.hiddenSize, table = weights.embedTokens
        for (t, id) in tokens.enumerated() {
            convertToFloat(table.rawPointer + id * table.dtype.byteCount(elements: d), dtype: table.dtype,
                           count: d, into: out + t * d)
        }
    }

    /// Runs precomputed input embeddings (T, D): the entry point for spliced image features.
    /// `observe(layer, hidden)` sees each block's output (T, D), then the final norm's as layer L.
    public func forward(embeddings: [Float], cache: KVCache, logits: Logits = .last,
                        observe: ((Int, UnsafePointer<Float>) -> Void)? = nil) throws -> [Float] {
        let d = config.hiddenSize
        let t = embeddings.count / d
        guard t > 0, embeddings.count == t * d else { throw ModelError.emptyPrompt }
        let start = cache.count
        try cache.reserve(start + t)
        let state = cache.scratch
        state.prepare(config: config, tokens: t, positions: start + t)
        rope.table(start: start, count: t, cos: &state.cos, sin: &state.sin)
        embeddings.withUnsafeBufferPointer { state.x.update(from: $0.baseAddress!, count: t * d) }
        let rows = [SequenceRows(rows: 0..<t, start: start, cache: cache)]
        for l in 0..<config.layerCount {
            block(l, sequences: rows, state: state)
            observe?(l, state.x)
        }
        cache.count = start + t
        return finish(state, tokens: t, logits: logits, observe: observe)
    }

    /// Final norm, then the head over the rows asked for.
    private func finish(_ s: LlamaRunState, tokens t: Int, logits mode: Logits,
                        observe: ((Int, UnsafePointer<Float>) -> Void)?) -> [Float] {
        let d = config.hiddenSize, v = config.vocabularySize
        let wanted = mode == .all ? 0..<t : (mode == .last ? (t - 1)..<t : t..<t)
        // Observers see the whole normed sequence; otherwise only the wanted rows are normed.
        let normed = observe == nil ? wanted : 0..<t
        rmsNormForward(s.xb + normed.lowerBound * d, s.x + normed.lowerBound * d,
                       weight: weights.finalNorm.floats, rows: normed.count, dim: d, eps: config.rmsNormEps)
        observe?(config.layerCount, s.xb)
        if wanted.isEmpty { return [] }
        var out = [Float](repeating: 0, count: wanted.count * v)
        out.withUnsafeMutableBufferPointer { o in
            linearForward(o.baseAddress!, s.xb + wanted.lowerBound * d, weight: weights.lmHead,
                          rows: wanted.count, scratch: s.widen)
        }
        return out
    }
}
