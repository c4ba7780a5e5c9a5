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
    var cos: [Float] = []                                          // (T, E/2)
    var sin: [Float] = []                                          // (T, E/2)

    func prepare(config c: LlamaConfiguration, tokens t: Int, positions s: Int) {
        let qd = c.headCount * c.headDim, kvd = c.kvHeadCount * c.headDim
        let sizes = [t * c.hiddenSize, t * c.hiddenSize, t * c.hiddenSize, t * qd, t * kvd, t * kvd,
                     t * qd, t * c.intermediateSize, t * c.intermediateSize, max(t, c.headCount) * s]
        for (b, n) in zip(buffers, sizes) { b.reserve(n) }
    }
}

extension LlamaModel {
    /// One decoder block on the T rows of the residual stream, in place:
    /// x += attention(norm(x)); x += mlp(norm(x)).
    func block(_ l: Int, tokens t: Int, start: Int, cache: KVCache) {
        let c = config, w = weights.layers[l], s = cache.scratch
        let d = c.hiddenSize, e = c.headDim, h = c.headCount, g = c.kvHeadCount
        let qd = h * e, kvd = g * e, half = e / 2

        rmsNormForward(s.xb, s.x, weight: w.attentionNorm.floats, rows: t, dim: d, eps: c.rmsNormEps)
        linearForward(s.q, s.xb, weight: w.wq, bias: w.bq, rows: t, scratch: s.widen)
        linearForward(s.k, s.xb, weight: w.wk, bias: w.bk, rows: t, scratch: s.widen)
        linearForward(s.v, s.xb, weight: w.wv, bias: w.bv, rows: t, scratch: s.widen)
        s.cos.withUnsafeBufferPointer { cos in
            s.sin.withUnsafeBufferPointer { sin in
                for i in 0..<t {
                    rope.apply(s.q + i * qd, heads: h, cos: cos.baseAddress! + i * half, sin: sin.baseAddress! + i * half)
                    rope.apply(s.k + i * kvd, heads: g, cos: cos.baseAddress! + i * half, sin: sin.baseAddress! + i * half)
                }
            }
        }
        cache.keys[l].withUnsafeMutableBufferPointer { keys in
            cache.values[l].withUnsafeMutableBufferPointer { values in
                (keys.baseAddress! + start * kvd).update(from: s.k, count: t * kvd)
                (values.baseAddress! + start * kvd).update(from: s.v, count: t * kvd)
                causalAttention(out: s.att, q: s.q, keys: keys.baseAddress!, values: values.baseAddress!,
                                start: start, tokens: t, heads: h, kvHeads: g, headDim: e, scores: s.scores)
            }
        }
        linearForward(s.xb2, s.att, weight: w.wo, bias: w.bo, rows: t, scratch: s.widen)
        addInPlace(s.x, s.xb2, count: t * d)

        rmsNormForward(s.xb, s.x, weight: w.mlpNorm.floats, rows: t, dim: d, eps: c.rmsNormEps)
        linearForward(s.hb, s.xb, weight: w.gate, bias: w.bGate, rows: t, scratch: s.widen)
        linearForward(s.hb2, s.xb, weight: w.up, bias: w.bUp, rows: t, scratch: s.widen)
        swigluForward(s.hb, gate: s.hb, up: s.hb2, count: t * c.intermediateSize)
        linearForward(s.xb2, s.hb, weight: w.down, bias: w.bDown, rows: t, scratch: s.widen)
        addInPlace(s.x, s.xb2, count: t * d)
    }
}
