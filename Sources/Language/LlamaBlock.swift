import Tensor

// Shape legend: T new tokens, S = start + T positions, D hidden size, F MLP size,
// H query heads, G key/value heads, E head dimension.

/// Scratch activations of one forward ("run state"): allocated for the largest
/// T seen, then reused, so one-token decoding allocates nothing.
final class LlamaRunState: @unchecked Sendable {
    private let buffers = (0..<10).map { _ in ScratchBuffer() }
    var x: UnsafeMutablePointer<Float> { buffers[0].pointer }      // (T, D) residual stream
    var xb: UnsafeMutablePointer<Float> { buffers[1].pointer }     // (T, D) normed input
    var xb2: UnsafeMutablePointer<Float> { buffers[2].pointer }    // (T, D) branch output
    var q: UnsafeMutablePointer<Float> { buffers[3].pointer }      // (T, H*E)
    var k: UnsafeMutablePointer<Float> { buffers[4].pointer }      // (T, G*E)
    var v: UnsafeMutablePointer<Float> { buffers[5].pointer }      // (T, G*E)
    var att: UnsafeMutablePointer<Float> { buffers[6].pointer }    // (T, H*E)
    var hb: UnsafeMutablePointer<Float> { buffers[7].pointer }     // (T, F)
    var hb2: UnsafeMutablePointer<Float> { buffers[8].pointer }    // (T, F)
    var scores: UnsafeMutablePointer<Float> { buffers[9].pointer } // (max(T, H), S)
    let widen = ScratchBuffer()                                    // f16/bf16 rows widened for GEMM
    let kvWide = ScratchBuffer()                                   // (2, S, E) one f16 cache head widened
    var cos: [Float] = []                                          // (T, E/2)
    var sin: [Float] = []                                          // (T, E/2)

    /// Room for `t` rows, and attention scores for up to `attentionRows` (default `t`) rows of
    /// one sequence over `s` positions.
    func prepare(config c: LlamaConfiguration, tokens t: Int, positions s: Int, attentionRows: Int? = nil) {
        let qd = c.headCount * c.headDim, kvd = c.kvHeadCount * c.headDim
        let room = (s + 255) / 256 * 256   // positions rounded up, so decoding grows these rarely
        let sizes = [t * c.hiddenSize, t * c.hiddenSize, t * c.hiddenSize, t * qd, t * kvd, t * kvd,
                     t * qd, t * c.intermediateSize, t * c.intermediateSize, max(attentionRows ?? t, c.headCount) * room]
        for (b, n) in zip(buffers, sizes) { b.reserve(n) }
        if t > 1 { kvWide.reserve(2 * s * c.headDim) }
    }
}

/// Rows of the residual stream that belong to one sequence in a forward: its new tokens sit at
/// positions `start ..< start + rows.count` of `cache`.
/// Runs one linear layer over a forward's rows: (y, x, weight, bias).
typealias LinearRun = (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Tensor, Tensor?) -> Void

struct SequenceRows {
    let rows: Range<Int>
    let start: Int
    let cache: KVCache
}

extension LlamaModel {
    /// One decoder block on the rows of the residual stream `s.x`, in place:
    /// x += attention(norm(x)); x += mlp(norm(x)).
    ///
    /// The rows may belong to several sequences (prompts prefilled together): norms, rotary
    /// embeddings and the MLP are row-wise, each linear runs every sequence's rows exactly as it
    /// would alone (`linearForward(segments:)`), and attention reads each sequence's own cache.
    /// So a sequence's values never depend on the others. `s.cos`/`s.sin` hold each row's
    /// rotary table row. `linear(y, x, weight, bias)` runs a linear over all the rows: by default
    /// `linearForward(segments:)`; batched decode passes the several-row mat-vec.
    func block(_ l: Int, sequences: [SequenceRows], state s: LlamaRunState, linear: LinearRun? = nil) {
        let c = config, w = weights.layers[l]
        let d = c.hiddenSize, e = c.headDim, h = c.headCount, g = c.kvHeadCount
        let qd = h * e, kvd = g * e, half = e / 2
        let t = sequences.last!.rows.upperBound, segments = sequences.map(\.rows)
        let linear = linear ?? { y, x, weight, bias in
            linearForward(y, x, weight: weight, bias: bias, segments: segments, scratch: s.widen)
        }

        rmsNormForward(s.xb, s.x, weight: w.attentionNorm.floats, rows: t, dim: d, eps: c.rmsNormEps)
        linear(s.q, s.xb, w.wq, w.bq)
        linear(s.k, s.xb, w.wk, w.bk)
        linear(s.v, s.xb, w.wv, w.bv)
        s.cos.withUnsafeBufferPointer { cos in
            s.sin.withUnsafeBufferPointer { sin in
                for i in 0..<t {
                    rope.apply(s.q + i * qd, heads: h, cos: cos.baseAddress! + i * half, sin: sin.baseAddress! + i * half)
                    rope.apply(s.k + i * kvd, heads: g, cos: cos.baseAddress! + i * half, sin: sin.baseAddress! + i * half)
                }
            }
        }
        for sequence in sequences {
            let r0 = sequence.rows.lowerBound, n = sequence.rows.count, start = sequence.start
            let cache = sequence.cache
            cache.store(layer: l, position: start, rows: n, keys: s.k + r0 * kvd, values: s.v + r0 * kvd)
            causalAttention(out: s.att + r0 * qd, q: s.q + r0 * qd, keys: cache.keys[l], values: cache.values[l],
                            cacheType: cache.elementType, start: start, tokens: n, heads: h, kvHeads: g,
                            headDim: e, scores: s.scores, widened: s.kvWide.pointer)
        }
        linear(s.xb2, s.att, w.wo, w.bo)
        addInPlace(s.x, s.xb2, count: t * d)

        rmsNormForward(s.xb, s.x, weight: w.mlpNorm.floats, rows: t, dim: d, eps: c.rmsNormEps)
        linear(s.hb, s.xb, w.gate, w.bGate)
        linear(s.hb2, s.xb, w.up, w.bUp)
        swigluForward(s.hb, gate: s.hb, up: s.hb2, count: t * c.intermediateSize)
        linear(s.xb2, s.hb, w.down, w.bDown)
        addInPlace(s.x, s.xb2, count: t * d)
    }
}
