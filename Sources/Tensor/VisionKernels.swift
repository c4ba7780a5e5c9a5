import CBLAS
import CKernels
import Foundation

// Kernels of the vision tower (CLIP ViT) that the decoder does not need.
// Shape legend: T tokens (all attend to all), H heads, E head dimension, N values.

/// CLIP's "quick GELU", in place: x · sigmoid(1.702 x).
///
/// OpenAI trained CLIP with this approximation, so checkpoints expect it exactly,
/// not the erf GELU it approximates.
public func quickGELUInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    parallelFor(n, minChunk: 8192) { r in
        lk_sigmoid_gate(x + r.lowerBound, x + r.lowerBound, nil, 1.702, r.count)
    }
}

/// Exact GELU, in place: 0.5 · x · (1 + erf(x / √2)) — PyTorch's `nn.GELU()` default
/// (HF `hidden_act` "gelu"; also LLaVA-1.5's projector).
public func geluInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    let invSqrt2: Float = 0.70710678118654752440
    parallelFor(n, minChunk: 8192) { r in
        for i in r {
            let v = x[i]
            x[i] = 0.5 * v * (1 + erff(v * invSqrt2))
        }
    }
}

/// Backward of `quickGELUInPlace`, accumulating: d/dx [x · σ(1.702x)] = σ + 1.702 · x · σ(1 − σ).
public func quickGELUBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                              x: UnsafePointer<Float>, count n: Int) {
    parallelFor(n, minChunk: 8192) { r in
        let i = r.lowerBound
        lk_quick_gelu_backward(dx + i, dy + i, x + i, r.count)
    }
}

/// Backward of `geluInPlace` (exact erf GELU), accumulating: d/dx = Φ(x) + x · φ(x), with
/// Φ(x) = ½(1 + erf(x/√2)) and φ the standard normal density.
public func geluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                         x: UnsafePointer<Float>, count n: Int) {
    let invSqrt2: Float = 0.70710678118654752440
    let invSqrt2Pi: Float = 0.39894228040143267794
    parallelFor(n, minChunk: 8192) { r in
        for i in r {
            let v = x[i]
            let cdf = 0.5 * (1 + erff(v * invSqrt2))
            let pdf = invSqrt2Pi * expf(-0.5 * v * v)
            dx[i] += dy[i] * (cdf + v * pdf)
        }
    }
}

/// Bidirectional (unmasked) multi-head scaled-dot-product attention over T tokens,
/// as in a ViT encoder: every token sees every token, scale 1/√E.
///
/// - q, k, v: [T, H*E] rows, head h in columns h*E..<(h+1)*E (the layout a linear layer writes).
/// - out: [T, H*E].
/// - scores: scratch of at least T*T floats.
///
/// Each head is two SGEMMs (scores = Q·Kᵀ, out = P·V), which OpenBLAS threads; the
/// row softmaxes between them are split across threads here.
public func bidirectionalAttention(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                                   k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                   tokens t: Int, heads h: Int, headDim e: Int,
                                   scores: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(e).squareRoot()
    let stride = Int32(h * e)
    for head in 0..<h {
        // scores[T, T] = scale · Q_h · K_hᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(t), Int32(e),
                    scale, q + head * e, stride, k + head * e, stride, 0, scores, Int32(t))
        parallelFor(t, minChunk: 8) { rows in
            for i in rows { softmaxInPlace(scores + i * t, count: t) }
        }
        // out_h[T, E] = P[T, T] · V_h[T, E]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(e), Int32(t),
                    1, scores, Int32(t), v + head * e, stride, 0, out + head * e, stride)
    }
}

/// Training form of `bidirectionalAttention`: same math, keeping the softmax for the backward.
///
/// - q, k, v: [T, H*E]; out: [T, H*E]; probs: [H, T, T] (every row a full softmax).
public func bidirectionalAttentionForward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                                          q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                          tokens t: Int, heads h: Int, headDim e: Int) {
    attentionForwardSavingProbabilities(out: out, probs: probs, q: q, k: k, v: v, tokens: t,
                                        heads: h, kvHeads: h, headDim: e, causal: false)
}

/// Backward of `bidirectionalAttentionForward`, accumulating into dq, dk, dv [T, H*E];
/// `scratch` holds one [T, T] block. The same arithmetic as the causal backward with G = H.
public func bidirectionalAttentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                           dv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                           q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                           probs: UnsafePointer<Float>, tokens t: Int, heads h: Int, headDim e: Int,
                                           scratch: ScratchBuffer) {
    attentionBackward(dq: dq, dk: dk, dv: dv, dOut: dOut, q: q, k: k, v: v, probs: probs, tokens: t,
                      heads: h, kvHeads: h, headDim: e, causal: false, scratch: scratch)
}

/// y[t, :] += bias[:] for every row t, with the bias as a plain pointer (rows split across threads).
public func addRowBias(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows t: Int, columns n: Int) {
    parallelFor(t, minChunk: max(1, 16_384 / max(1, n))) { rows in
        for row in rows {
            let yr = y + row * n
            for j in 0..<n { yr[j] += bias[j] }
        }
    }
}
