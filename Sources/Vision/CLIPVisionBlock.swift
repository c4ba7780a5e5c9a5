import Tensor

// Shape legend: T token rows, D hidden size, F MLP size, H heads, E = D/H head dimension,
// N patches, K = C*P*P pixels per patch.

/// Scratch activations of one forward ("run state"): sized once for the tower's T,
/// then reused by every image.
final class CLIPRunState: @unchecked Sendable {
    private let buffers = (0..<10).map { _ in ScratchBuffer() }
    var x: UnsafeMutablePointer<Float> { buffers[0].pointer }       // (T, D) residual stream
    var xb: UnsafeMutablePointer<Float> { buffers[1].pointer }      // (T, D) normed input / embeddings
    var xb2: UnsafeMutablePointer<Float> { buffers[2].pointer }     // (T, D) branch output
    var q: UnsafeMutablePointer<Float> { buffers[3].pointer }       // (T, D)
    var k: UnsafeMutablePointer<Float> { buffers[4].pointer }       // (T, D)
    var v: UnsafeMutablePointer<Float> { buffers[5].pointer }       // (T, D)
    var att: UnsafeMutablePointer<Float> { buffers[6].pointer }     // (T, D) heads concatenated
    var hb: UnsafeMutablePointer<Float> { buffers[7].pointer }      // (T, F)
    var scores: UnsafeMutablePointer<Float> { buffers[8].pointer }  // (T, T) one head at a time
    var patches: UnsafeMutablePointer<Float> { buffers[9].pointer } // (N, K) im2col rows
    let widen = ScratchBuffer()                                     // f16/bf16 weight rows widened for GEMM

    func prepare(config c: CLIPVisionConfiguration) {
        let t = c.positionCount, d = c.hiddenSize
        let sizes = [t * d, t * d, t * d, t * d, t * d, t * d, t * d, t * c.intermediateSize, t * t,
                     c.patchCount * c.channelCount * c.patchSize * c.patchSize]
        for (b, n) in zip(buffers, sizes) { b.reserve(n) }
    }
}

extension CLIPVisionModel {
    /// One pre-norm encoder layer on the T rows of the residual stream, in place:
    /// x += out_proj(attention(layer_norm1(x))); x += fc2(act(fc1(layer_norm2(x)))).
    func block(_ l: Int, state s: CLIPRunState) {
        let c = config, w = weights.layers[l]
        let t = c.positionCount, d = c.hiddenSize

        layerNormForward(s.xb, s.x, weight: w.norm1Weight.floats, bias: w.norm1Bias.floats,
                         rows: t, dim: d, eps: c.layerNormEps)
        linearForward(s.q, s.xb, weight: w.wq, rows: t, scratch: s.widen)
        linearForward(s.k, s.xb, weight: w.wk, rows: t, scratch: s.widen)
        linearForward(s.v, s.xb, weight: w.wv, rows: t, scratch: s.widen)
        addRowBias(s.q, bias: w.bq.floats, rows: t, columns: d)
        addRowBias(s.k, bias: w.bk.floats, rows: t, columns: d)
        addRowBias(s.v, bias: w.bv.floats, rows: t, columns: d)
        bidirectionalAttention(out: s.att, q: s.q, k: s.k, v: s.v, tokens: t, heads: c.headCount,
                               headDim: c.headDim, scores: s.scores)
        linearForward(s.xb2, s.att, weight: w.wo, rows: t, scratch: s.widen)
        addRowBias(s.xb2, bias: w.bo.floats, rows: t, columns: d)
        addInPlace(s.x, s.xb2, count: t * d)

        layerNormForward(s.xb, s.x, weight: w.norm2Weight.floats, bias: w.norm2Bias.floats,
                         rows: t, dim: d, eps: c.layerNormEps)
        linearForward(s.hb, s.xb, weight: w.fc1, rows: t, scratch: s.widen)
        addRowBias(s.hb, bias: w.bFc1.floats, rows: t, columns: c.intermediateSize)
        switch c.activation {
        case .quickGELU: quickGELUInPlace(s.hb, count: t * c.intermediateSize)
        case .gelu: geluInPlace(s.hb, count: t * c.intermediateSize)
        }
        linearForward(s.xb2, s.hb, weight: w.fc2, rows: t, scratch: s.widen)
        addRowBias(s.xb2, bias: w.bFc2.floats, rows: t, columns: d)
        addInPlace(s.x, s.xb2, count: t * d)
    }
}
