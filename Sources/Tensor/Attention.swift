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
    attentionBackward(dq: dq, dk: dk, dv: dv, dOut: dOut, q: q, k: k, v: v, probs: probs, tokens: t,
                      heads: h, kvHeads: g, headDim: e, causal: true, scratch: scratch)
}

/// Query rows per block of causal attention's GEMMs. Rows i0..<i1 see keys 0..<i1 only, so a
/// block's products stop at column i1 and most of the masked triangle is never computed:
/// 64-row blocks of 256 tokens do 5/8 of the full square's multiply-adds.
let causalRowBlock = 64

/// Calls `body(i0, i1, c)` for the query-row blocks of T tokens, `c` the keys those rows
/// see: blocks of `causalRowBlock` rows and c = i1 when `causal`, one block of all T otherwise.
func forEachQueryBlock(tokens t: Int, causal: Bool, _ body: (Int, Int, Int) -> Void) {
    guard causal else { body(0, t, t); return }
    var i0 = 0
    while i0 < t {
        let i1 = min(t, i0 + causalRowBlock)
        body(i0, i1, i1)
        i0 = i1
    }
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
    let qStride = h * e, kvStride = g * e
    let kv = head / (h / g)
    attentionProbabilitiesHead(head, p: p, q: q, k: k, tokens: t, heads: h, kvHeads: g, headDim: e, causal: causal)
    forEachQueryBlock(tokens: t, causal: causal) { i0, i1, c in
        // out[i0..<i1] = P[i0..<i1, 0..<c] · V[0..<c]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(i1 - i0), Int32(e), Int32(c),
                    1, p + i0 * t, Int32(t), v + kv * e, Int32(kvStride), 0, out + i0 * qStride + head * e, Int32(qStride))
    }
}

/// P = softmax(scale · Q_h·K_kvᵀ) of one query head into `p` (T, T), masked above the diagonal
/// (and zero there) when `causal`.
func attentionProbabilitiesHead(_ head: Int, p: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                                k: UnsafePointer<Float>, tokens t: Int, heads h: Int, kvHeads g: Int, headDim e: Int,
                                causal: Bool) {
    let scale = 1 / Float(e).squareRoot()
    let qStride = h * e, kvStride = g * e
    let kv = head / (h / g)
    forEachQueryBlock(tokens: t, causal: causal) { i0, i1, c in
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(i1 - i0), Int32(c), Int32(e),
                    scale, q + i0 * qStride + head * e, Int32(qStride), k + kv * e, Int32(kvStride), 0, p + i0 * t, Int32(t))
    }
    parallelFor(t, minChunk: 8) { rows in
        for i in rows {
            let row = p + i * t
            let visible = causal ? i + 1 : t
            softmaxInPlace(row, count: visible)
            (row + visible).update(repeating: 0, count: t - visible)
        }
    }
}

/// Per query head h reading KV head kv (S = scale · Q·Kᵀ, P = softmax(S), O = P·V):
/// dV_kv += Pᵀ·dO_h;  dP = dO_h·V_kvᵀ;  dS = P ⊙ (dP − rowsum(P ⊙ dP));
/// dQ_h += scale · dS·K_kv;  dK_kv += scale · dSᵀ·Q_h. Heads run in order, so the GQA sums
/// into one KV head's columns need no locking (every GEMM accumulates with β = 1). When
/// `causal`, each block of query rows goes only as far as the keys it sees (P is zero beyond).
func attentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                       dv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                       q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                       probs: UnsafePointer<Float>, tokens t: Int, heads h: Int, kvHeads g: Int,
                       headDim e: Int, causal: Bool, scratch: ScratchBuffer) {
    precondition(g > 0 && h % g == 0, "query heads (\(h)) must be a multiple of key/value heads (\(g))")
    guard t > 0 else { return }
    let dp = scratch.reserve(t * t)
    for head in 0..<h {
        attentionBackwardHead(head, dq: dq, dk: dk, dv: dv, dOut: dOut, q: q, k: k, v: v, p: probs + head * t * t,
                              dp: dp, tokens: t, heads: h, kvHeads: g, headDim: e, causal: causal)
    }
}

/// One query head of `attentionBackward`, given its (T, T) probabilities `p`; `dp` is a
/// (T, T) scratch.
func attentionBackwardHead(_ head: Int, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                           dv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                           q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                           p: UnsafePointer<Float>, dp: UnsafeMutablePointer<Float>, tokens t: Int, heads h: Int,
                           kvHeads g: Int, headDim e: Int, causal: Bool) {
    let scale = 1 / Float(e).squareRoot()
    let qStride = h * e, kvStride = g * e, tt = Int32(t), ee = Int32(e)
    let kv = head / (h / g)
    let (qH, kH, vH) = (q + head * e, k + kv * e, v + kv * e)
    let (dqH, dkH, dvH, dOutH) = (dq + head * e, dk + kv * e, dv + kv * e, dOut + head * e)
    forEachQueryBlock(tokens: t, causal: causal) { i0, i1, c in
        let m = Int32(i1 - i0), cc = Int32(c), pB = p + i0 * t, dpB = dp + i0 * t
        // dV[0..<c] += P[i0..<i1, 0..<c]ᵀ · dO[i0..<i1];  dP[i0..<i1, 0..<c] = dO[i0..<i1] · V[0..<c]ᵀ
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cc, ee, m,
                    1, pB, tt, dOutH + i0 * qStride, Int32(qStride), 1, dvH, Int32(kvStride))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, cc, ee,
                    1, dOutH + i0 * qStride, Int32(qStride), vH, Int32(kvStride), 0, dpB, tt)
        parallelFor(i1 - i0, minChunk: 8) { rows in
            for i in rows {
                let pr = pB + i * t, dr = dpB + i * t
                var s: Float = 0
                for j in 0..<c { s += pr[j] * dr[j] }
                for j in 0..<c { dr[j] = pr[j] * (dr[j] - s) }
            }
        }
        // dQ[i0..<i1] += scale · dS · K[0..<c];  dK[0..<c] += scale · dSᵀ · Q[i0..<i1]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, ee, cc,
                    scale, dpB, tt, kH, Int32(kvStride), 1, dqH + i0 * qStride, Int32(qStride))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cc, ee, m,
                    scale, dpB, tt, qH + i0 * qStride, Int32(qStride), 1, dkH, Int32(kvStride))
    }
}
