import Tensor

// Shape legend: M sequences in the step (one new token each), D hidden size, F MLP size,
// H query heads, G key/value heads, E head dimension, V vocabulary, S_i positions of sequence i.

/// Scratch activations of a batched decode step, reused from step to step; owned by whoever
/// runs the steps (one engine loop), apart from the sequences' own caches.
public final class BatchDecodeScratch: @unchecked Sendable {
    let run = LlamaRunState()
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
        let c = config
        let s = scratch.run
        s.prepare(config: c, tokens: m, positions: caches.map(\.count).max()! + 1, attentionRows: 1)
        let sequences = caches.enumerated().map { SequenceRows(rows: $0.offset..<($0.offset + 1), start: $0.element.count, cache: $0.element) }
        fillRotaryTables(s, sequences: sequences)
        embed(tokens, into: s.x)
        // One row per sequence: every linear reads its weight once for all of them.
        let linear: LinearRun = { y, x, weight, bias in linearForwardBatchInvariant(y, x, weight: weight, bias: bias, rows: m) }
        for l in 0..<c.layerCount { block(l, sequences: sequences, state: s, linear: linear) }
        for cache in caches { cache.count += 1 }
        return headLogits(s, rows: Array(0..<m))
    }

    /// Prefills several prompts at once: `embeddings[i]` (T_i, D) goes at the next positions of
    /// `caches[i]`, and row i of the result is the (V) logits of that prompt's last token.
    ///
    /// The prompts' rows run through each layer together, so a half-precision or quantised
    /// weight is widened once for all of them, and the caller can start their decoding in the
    /// same step. Each prompt's logits and cache are bit-identical to
    /// `forward(embeddings: embeddings[i], cache: caches[i])` alone: every linear runs a
    /// prompt's rows with the same calls as alone (`linearForward(segments:)`), and attention
    /// reads each prompt's own cache.
    ///
    /// ```swift
    /// let logits = try model.prefill(embeddings: [prompt1, prompt2], caches: [cache1, cache2], scratch: scratch)
    /// ```
    public func prefill(embeddings: [[Float]], caches: [KVCache], scratch: BatchDecodeScratch) throws -> [[Float]] {
        let m = embeddings.count, d = config.hiddenSize
        guard m > 0, caches.count == m else { throw ModelError.emptyPrompt }
        precondition(Set(caches.map(ObjectIdentifier.init)).count == m, "each prompt needs its own cache")
        var sequences: [SequenceRows] = []
        var t = 0
        for (x, cache) in zip(embeddings, caches) {
            let n = x.count / d
            guard n > 0, x.count == n * d else { throw ModelError.emptyPrompt }
            try cache.reserve(cache.count + n)
            sequences.append(SequenceRows(rows: t..<(t + n), start: cache.count, cache: cache))
            t += n
        }
        let s = scratch.run
        s.prepare(config: config, tokens: t, positions: sequences.map { $0.start + $0.rows.count }.max()!,
                  attentionRows: sequences.map(\.rows.count).max()!)
        fillRotaryTables(s, sequences: sequences)
        for (sequence, x) in zip(sequences, embeddings) {
            x.withUnsafeBufferPointer { (s.x + sequence.rows.lowerBound * d).update(from: $0.baseAddress!, count: x.count) }
        }
        for l in 0..<config.layerCount { block(l, sequences: sequences, state: s) }
        for sequence in sequences { sequence.cache.count = sequence.start + sequence.rows.count }
        // Each prompt's last row, as the one-prompt forward keeps it.
        return headLogits(s, rows: sequences.map { $0.rows.upperBound - 1 })
    }

    /// The (V) logits of the given rows of the residual stream `s.x`: each normed on its own
    /// (as a one-row forward does), then the head over all of them, its weight read once.
    private func headLogits(_ s: LlamaRunState, rows: [Int]) -> [[Float]] {
        let d = config.hiddenSize, v = config.vocabularySize
        for (i, r) in rows.enumerated() {
            rmsNormForward(s.xb + i * d, s.x + r * d, weight: weights.finalNorm.floats, rows: 1, dim: d, eps: config.rmsNormEps)
        }
        var out = [Float](repeating: 0, count: rows.count * v)
        out.withUnsafeMutableBufferPointer { o in
            linearForwardBatchInvariant(o.baseAddress!, s.xb, weight: weights.lmHead, rows: rows.count)
        }
        return (0..<rows.count).map { Array(out[$0 * v..<($0 + 1) * v]) }
    }

    /// Each row's rotary table row (`s.cos`, `s.sin`), at its sequence's positions.
    private func fillRotaryTables(_ s: LlamaRunState, sequences: [SequenceRows]) {
        let half = config.headDim / 2, t = sequences.last!.rows.upperBound
        if s.cos.count < t * half {
            s.cos = [Float](repeating: 0, count: t * half)
            s.sin = s.cos
        }
        var cos: [Float] = [], sin: [Float] = []
        for sequence in sequences {
            let n = sequence.rows.count, r0 = sequence.rows.lowerBound
            rope.table(start: sequence.start, count: n, cos: &cos, sin: &sin)
            s.cos.replaceSubrange(r0 * half..<(r0 + n) * half, with: cos[..<(n * half)])
            s.sin.replaceSubrange(r0 * half..<(r0 + n) * half, with: sin[..<(n * half)])
        }
    }
}
