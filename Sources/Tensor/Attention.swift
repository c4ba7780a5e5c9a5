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
    causalAttention(out: out, q: q, keys: UnsafeRawPointer(keys), values: UnsafeRawPointer(values),
                    cacheType: .f32, start: start, tokens: t, heads: h, kvHeads: g, headDim: e,
                    scores: scores, widened: nil)
}

/// `causalAttention` over cache rows of `cacheType`, f32 or f16 (f16 rows are widened
/// exactly, so an f16 cache computes what an f32 cache holding the same rounded values would).
///
/// - widened: for an f16 prefill (T > 1), scratch of 2·S·E floats: one key/value head's rows
///   as f32 at a time. Decode widens inside its dot products and needs none.
public func causalAttention(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                            keys: UnsafeRawPointer, values: UnsafeRawPointer, cacheType: DType,
                            start: Int, tokens t: Int, heads h: Int, kvHeads g: Int,
                            headDim e: Int, scores: UnsafeMutablePointer<Float>,
                            widened: UnsafeMutablePointer<Float>?) {
    precondition(cacheType == .f32 || cacheType == .f16, "a KV cache holds f32 or f16 rows")
    let half = cacheType == .f16
    if t == 1 {
        attendOne(out: out, q: q, keys: keys, values: values, f16: half, length: start + 1,
                  heads: h, kvHeads: g, headDim: e, scores: scores)
        return
    }
    let s = start + t, stride = g * e
    let scale = 1 / Float(e).squareRoot()
    let qStride = Int32(h * e)
    for kv in 0..<g {
        // This key/value head as f32 rows: in place for an f32 cache, widened for f16.
        let kh: UnsafePointer<Float>, vh: UnsafePointer<Float>, kvStride: Int32
        if half, let widened {
            let k16 = keys.assumingMemoryBound(to: UInt16.self) + kv * e
            let v16 = values.assumingMemoryBound(to: UInt16.self) + kv * e
            for j in 0..<s {
                lk_f16_to_f32(k16 + j * stride, widened + j * e, e)
                lk_f16_to_f32(v16 + j * stride, widened + (s + j) * e, e)
            }
            (kh, vh, kvStride) = (UnsafePointer(widened), UnsafePointer(widened + s * e), Int32(e))
        } else {
            precondition(!half, "an f16 prefill needs the widened scratch")
            kh = keys.assumingMemoryBound(to: Float.self) + kv * e
            vh = values.assumingMemoryBound(to: Float.self) + kv * e
            kvStride = Int32(stride)
        }
        for head in kv * (h / g) ..< (kv + 1) * (h / g) {
            // scores[T, S] = scale · Q_h · K_kvᵀ
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(s), Int32(e),
                        scale, q + head * e, qStride, kh, kvStride, 0, scores, Int32(s))
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
                        1, scores, Int32(s), vh, kvStride, 0, out + head * e, qStride)
        }
    }
}

/// One query per head over `length` cached positions; heads run in parallel.
private func attendOne(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                       keys: UnsafeRawPointer, values: UnsafeRawPointer, f16: Bool,
                       length n: Int, heads h: Int, kvHeads g: Int, headDim e: Int,
                       scores: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(e).squareRoot()
    let stride = g * e
    parallelFor(h, minChunk: max(1, 2048 / max(1, n))) { heads in
        for head in heads {
            let kv = head / (h / g)
            let qh = q + head * e
            let sc = scores + head * n
            let oh = out + head * e
            if f16 {
                let k16 = keys.assumingMemoryBound(to: UInt16.self) + kv * e
                let v16 = values.assumingMemoryBound(to: UInt16.self) + kv * e
                for j in 0..<n { sc[j] = scale * lk_dot_f16(k16 + j * stride, qh, e) }
                softmaxInPlace(sc, count: n)
                oh.update(repeating: 0, count: e)
                for j in 0..<n { lk_axpy_f16(sc[j], v16 + j * stride, oh, e) }
            } else {
                let k32 = keys.assumingMemoryBound(to: Float.self) + kv * e
                let v32 = values.assumingMemoryBound(to: Float.self) + kv * e
                for j in 0..<n { sc[j] = scale * lk_dot_f32(qh, k32 + j * stride, e) }
                softmaxInPlace(sc, count: n)
                oh.update(repeating: 0, count: e)
                for j in 0..<n { lk_axpy_f32(sc[j], v32 + j * stride, oh, e) }
            }
        }
    }
}

// MARK: - Training (no cache, probabilities saved for the backward)

/// Causal GQA attention of T tokens from position 0, keeping the softmax for the backward.
///
/// - q: [T, H*E]; k, v: [T, G*E] (rotary already applied to q and k).
/// - out: [T, H*E].
/// - probs: [H, T, T], row i the softmax over positions 0...i, zeros above the diagonal.
///
///     causalAttentionForward(out: o, probs: p, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e)
public func causalAttentionForward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                                   q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                   tokens t: Int, heads h: Int, kvHeads g: Int, headDim e: Int) {
    attentionForwardSavingProbabilities(out: out, probs: probs, q: q, k: k, v: v, tokens: t,
                                        heads: h, kvHeads: g, headDim: e, causal: true)
}

/// Backward of `causalAttentionForward`, accumulating into dq [T, H*E], dk and dv [T, G*E].
/// A KV head's dk/dv sum over the H/G query heads that read it. `scratch` holds one [T, T] block.
public func causalAttentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                    dv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                    probs: UnsafePointer<Float>, tokens t: Int, heads h: Int, kvHeads g: Int,
                                    headDim e: Int, scratch: ScratchBuffer) {
    // The mask lives in probs (zeros above the diagonal make their dS zero), so the
    // backward is the same with or without it.
    attentionBackward(dq: dq, dk: dk, dv: dv, dOut: dOut, q: q, k: k, v: v, probs: probs, tokens: t,
                      heads: h, kvHeads: g, headDim: e, scratch: scratch)
}

/// Shared by the causal and bidirectional forwards: per head, P = softmax(scale · Q·Kᵀ) into
/// `probs` (masked above the diagonal when `causal`), out_h = P · V.
func attentionForwardSavingProbabilities(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                                         q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                         tokens t: Int, heads h: Int, kvHeads g: Int, headDim e: Int, causal: Bool) {
    precondition(g > 0 && h % g == 0, "query heads (\(h)) must be a multiple of key/value heads (\(g))")
    for head in 0..<h {
        attentionForwardHead(head, out: out, p: probs + head * t * t, q: q, k: k, v: v, tokens: t,
                             heads: h, kvHeads: g, headDim: e, causal: causal)
    }
}

/// One query head of `attentionForwardSavingProbabilities`: its (T, T) probabilities into `p`,
/// its output columns of `out`.
func attentionForwardHead(_ head: Int, out: UnsafeMutablePointer<Float>, p: UnsafeMutablePointer<Float>,
                          q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                          tokens t: Int, heads h: Int, kvHeads g: Int, headDim e: Int, causal: Bool) {
    let qStride = Int32(h * e), kvStride = Int32(g * e)
    let kv = head / (h / g)
    attentionProbabilitiesHead(head, p: p, q: q, k: k, tokens: t, heads: h, kvHeads: g, headDim: e, causal: causal)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(e), Int32(t),
                1, p, Int32(t), v + kv * e, kvStride, 0, out + head * e, qStride)
}

/// P = softmax(scale · Q_h·K_kvᵀ) of one query head into `p` (T, T), masked above the diagonal
/// when `causal`.
func attentionProbabilitiesHead(_ head: Int, p: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                                k: UnsafePointer<Float>, tokens t: Int, heads h: Int, kvHeads g: Int, headDim e: Int,
                                causal: Bool) {
    let scale = 1 / Float(e).squareRoot()
    let qStride = Int32(h * e), kvStride = Int32(g * e)
    let kv = head / (h / g)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(t), Int32(e),
                scale, q + head * e, qStride, k + kv * e, kvStride, 0, p, Int32(t))
    parallelFor(t, minChunk: 8) { rows in
        for i in rows {
            let row = p + i * t
            let visible = causal ? i + 1 : t
            softmaxInPlace(row, count: visible)
            for j in visible..<t { row[j] = 0 }
        }
    }
}

/// Per query head h reading KV head kv (S = scale · Q·Kᵀ, P = softmax(S), O = P·V):
/// dV_kv += Pᵀ·dO_h;  dP = dO_h·V_kvᵀ;  dS = P ⊙ (dP − rowsum(P ⊙ dP));
/// dQ_h += scale · dS·K_kv;  dK_kv += scale · dSᵀ·Q_h. Heads run in order, so the GQA sums
/// into one KV head's columns need no locking (every GEMM accumulates with β = 1).
func attentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                       dv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                       q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                       probs: UnsafePointer<Float>, tokens t: Int, heads h: Int, kvHeads g: Int,
                       headDim e: Int, scratch: ScratchBuffer) {
    precondition(g > 0 && h % g == 0, "query heads (\(h)) must be a multiple of key/value heads (\(g))")
    guard t > 0 else { return }
    let dp = scratch.reserve(t * t)
    for head in 0..<h {
        attentionBackwardHead(head, dq: dq, dk: dk, dv: dv, dOut: dOut, q: q, k: k, v: v, p: probs + head * t * t,
                              dp: dp, tokens: t, heads: h, kvHeads: g, headDim: e)
    }
}

/// One query head of `attentionBackward`, given its (T, T) probabilities `p`; `dp` is a
/// (T, T) scratch.
func attentionBackwardHead(_ head: Int, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                           dv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                           q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                           p: UnsafePointer<Float>, dp: UnsafeMutablePointer<Float>, tokens t: Int, heads h: Int,
                           kvHeads g: Int, headDim e: Int) {
    let scale = 1 / Float(e).squareRoot()
    let qStride = Int32(h * e), kvStride = Int32(g * e), tt = Int32(t)
    let kv = head / (h / g)
    let dOutH = dOut + head * e
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tt, Int32(e), tt,
                1, p, tt, dOutH, qStride, 1, dv + kv * e, kvStride)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tt, tt, Int32(e),
                1, dOutH, qStride, v + kv * e, kvStride, 0, dp, tt)
    parallelFor(t, minChunk: 8) { rows in
        for i in rows {
            let pr = p + i * t, dr = dp + i * t
            var s: Float = 0
            for j in 0..<t { s += pr[j] * dr[j] }
            for j in 0..<t { dr[j] = pr[j] * (dr[j] - s) }
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tt, Int32(e), tt,
                scale, dp, tt, k + kv * e, kvStride, 1, dq + head * e, qStride)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tt, Int32(e), tt,
                scale, dp, tt, q + head * e, qStride, 1, dk + kv * e, kvStride)
}
