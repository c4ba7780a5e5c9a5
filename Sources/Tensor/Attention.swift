import CBLAS
import CKernels
import Foundation

// Shape legend: T new tokens, S = start + T positions attended to, H query heads,
// G key/value heads (H % G == 0, grouped-query attention), E head dimension.

/// Causal scaled-dot-product attention of T new queries over a key/value cache.
///
/// - q: [T, H*E] queries of the new tokens (rotary already applied).
/// - keys, values: [capacity, G*E] cache rows; rows 0..<start+T are filled.
/// - out: [T, H*E].
/// - scores: scratch of at least T*S floats (prefill) or H*S floats (decode).
/// Query t sits at position start + t and sees positions 0...start+t.
public func causalAttention(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                            keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                            start: Int, tokens t: Int, heads h: Int, kvHeads g: Int,
                            headDim e: Int, scores: UnsafeMutablePointer<Float>) {
    if t == 1 {
        attendOne(out: out, q: q, keys: keys, values: values, length: start + 1,
                  heads: h, kvHeads: g, headDim: e, scores: scores)
        return
    }
    let s = start + t
    let scale = 1 / Float(e).squareRoot()
    let qStride = Int32(h * e), kvStride = Int32(g * e)
    for head in 0..<h {
        let kv = head / (h / g)
        // scores[T, S] = scale · Q_h · K_kvᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(s), Int32(e),
                    scale, q + head * e, qStride, keys + kv * e, kvStride, 0, scores, Int32(s))
        parallelFor(t, minChunk: 8) { rows in
            for i in rows {
                let row = scores + i * s
                let visible = start + i + 1
                softmaxInPlace(row, count: visible)
                for j in visible..<s { row[j] = 0 }
            }
        }
        // out_h[T, E] = P[T, S] · V_kv[S, E]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(e), Int32(s),
                    1, scores, Int32(s), values + kv * e, kvStride, 0, out + head * e, qStride)
    }
}

/// One query per head over `length` cached positions; heads run in parallel.
private func attendOne(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                       keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                       length n: Int, heads h: Int, kvHeads g: Int, headDim e: Int,
                       scores: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(e).squareRoot()
    let stride = g * e
    parallelFor(h, minChunk: max(1, 2048 / max(1, n))) { heads in
        for head in heads {
            let kv = head / (h / g)
            let qh = q + head * e
            let sc = scores + head * n
            for j in 0..<n { sc[j] = scale * lk_dot_f32(qh, keys + j * stride + kv * e, e) }
            softmaxInPlace(sc, count: n)
            let oh = out + head * e
            oh.update(repeating: 0, count: e)
            for j in 0..<n { lk_axpy_f32(sc[j], values + j * stride + kv * e, oh, e) }
        }
    }
}
