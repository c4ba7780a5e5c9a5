import Tensor

// Shape legend: M sequences in the step (one new token each), D hidden size, F MLP size,
// H query heads, G key/value heads, E head dimension, V vocabulary, S_i positions of sequence i.

/// Scratch activations of a batched decode step, reused from step to step; owned by whoever
/// runs the steps (one engine loop), apart from the sequences' own caches.
public final class BatchDecodeScratch: @unchecked Sendable {
    let run = LlamaRunState()
    var cos: [Float] = []                  // (M, E/2)
    var sin: [Float] = []                  // (M, E/2)
    public init() {}
}

extension LlamaModel {
    /// One decode step for several sequences at once: `tokens[i]` goes at the next position of
    /// `caches[i]`, and row i of the result is that sequence's (V) logits.
    ///
    /// Each linear layer reads its weights once for all M rows (decode is bound by memory
    /// bandwidth, so M sequences cost little more than one), while attention runs per sequence
    /// on its own cache. Every row is bit-identical to `forward(tokens: [tokens[i]], cache: caches[i])`
    /// alone: the step is batch-invariant, so a greedy answer never depends on its neighbours.
    ///
    /// ```swift
    /// let scratch = BatchDecodeScratch()
    /// let logits = try model.decodeStep(tokens: [next1, next2], caches: [cache1, cache2], scratch: scratch)
    /// ```
    public func decodeStep(tokens: [Int], caches: [KVCache], scratch: BatchDecodeScratch) throws -> [[Float]] {
        let m = tokens.count
        guard m > 0, caches.count == m else { throw ModelError.emptyPrompt }
        precondition(Set(caches.map(ObjectIdentifier.init)).count == m, "each sequence of a step needs its own cache")
        for id in tokens where id < 0 || id >= config.vocabularySize {
            throw ModelError.tokenOutOfRange(id: id, vocabularySize: config.vocabularySize)
        }
        for cache in caches { try cache.reserve(cache.count + 1) }
        let c = config, d = c.hiddenSize, half = c.headDim / 2
        let s = scratch.run
        let longest = caches.map(\.count).max()! + 1
        s.prepare(config: c, tokens: m, positions: longest)
        if scratch.cos.count != m * half {
            scratch.cos = [Float](repeating: 0, count: m * half)
            scratch.sin = scratch.cos
        }
        var cos: [Float] = [], sin: [Float] = []
        for (i, cache) in caches.enumerated() {
            rope.table(start: cache.count, count: 1, cos: &cos, sin: &sin)
            scratch.cos.replaceSubrange(i * half..<(i + 1) * half, with: cos)
            scratch.sin.replaceSubrange(i * half..<(i + 1) * half, with: sin)
        }
        embed(tokens, into: s.x)
        for l in 0..<c.layerCount { batchBlock(l, caches: caches, scratch: scratch) }
        for cache in caches { cache.count += 1 }
        let v = c.vocabularySize
        rmsNormForward(s.xb, s.x, weight: weights.finalNorm.floats, rows: m, dim: d, eps: c.rmsNormEps)
        var out = [Float](repeating: 0, count: m * v)
        out.withUnsafeMutableBufferPointer { o in
            linearForwardBatchInvariant(o.baseAddress!, s.xb, weight: weights.lmHead, rows: m)
        }
        return (0..<m).map { Array(out[$0 * v..<($0 + 1) * v]) }
    }

    /// One decoder block over the step's M rows: the linears batched, attention per sequence.
    private func batchBlock(_ l: Int, caches: [KVCache], scratch: BatchDecodeScratch) {
        let c = config, w = weights.layers[l], s = scratch.run, m = caches.count
        let d = c.hiddenSize, e = c.headDim, h = c.headCount, g = c.kvHeadCount
        let qd = h * e, kvd = g * e, half = e / 2

        rmsNormForward(s.xb, s.x, weight: w.attentionNorm.floats, rows: m, dim: d, eps: c.rmsNormEps)
        linearForwardBatchInvariant(s.q, s.xb, weight: w.wq, bias: w.bq, rows: m)
        linearForwardBatchInvariant(s.k, s.xb, weight: w.wk, bias: w.bk, rows: m)
        linearForwardBatchInvariant(s.v, s.xb, weight: w.wv, bias: w.bv, rows: m)
        scratch.cos.withUnsafeBufferPointer { cos in
            scratch.sin.withUnsafeBufferPointer { sin in
                for i in 0..<m {
                    rope.apply(s.q + i * qd, heads: h, cos: cos.baseAddress! + i * half, sin: sin.baseAddress! + i * half)
                    rope.apply(s.k + i * kvd, heads: g, cos: cos.baseAddress! + i * half, sin: sin.baseAddress! + i * half)
                }
            }
        }
        for (i, cache) in caches.enumerated() {
            let position = cache.count
            cache.keys[l].withUnsafeMutableBufferPointer { keys in
                cache.values[l].withUnsafeMutableBufferPointer { values in
                    (keys.baseAddress! + position * kvd).update(from: s.k + i * kvd, count: kvd)
                    (values.baseAddress! + position * kvd).update(from: s.v + i * kvd, count: kvd)
                    causalAttention(out: s.att + i * qd, q: s.q + i * qd, keys: keys.baseAddress!, values: values.baseAddress!,
                                    start: position, tokens: 1, heads: h, kvHeads: g, headDim: e, scores: s.scores)
                }
            }
        }
        linearForwardBatchInvariant(s.xb2, s.att, weight: w.wo, bias: w.bo, rows: m)
        addInPlace(s.x, s.xb2, count: m * d)

        rmsNormForward(s.xb, s.x, weight: w.mlpNorm.floats, rows: m, dim: d, eps: c.rmsNormEps)
        linearForwardBatchInvariant(s.hb, s.xb, weight: w.gate, bias: w.bGate, rows: m)
        linearForwardBatchInvariant(s.hb2, s.xb, weight: w.up, bias: w.bUp, rows: m)
        swigluForward(s.hb, gate: s.hb, up: s.hb2, count: m * c.intermediateSize)
        linearForwardBatchInvariant(s.xb2, s.hb, weight: w.down, bias: w.bDown, rows: m)
        addInPlace(s.x, s.xb2, count: m * d)
    }
}
