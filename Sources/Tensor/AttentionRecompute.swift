// Shape legend: T tokens, H query heads, G key/value heads, E head dimension.

// MARK: - Training attention that keeps no probabilities

/// Causal GQA attention of T tokens from position 0, like
/// `causalAttentionForward(out:probs:…)` but keeping no (H, T, T) probabilities: each head's
/// softmax lives in `scratch` (one (T, T) block) only while that head runs. The output is the
/// same bit for bit (the same operations, in the same order).
///
/// - q: [T, H*E]; k, v: [T, G*E] (rotary already applied to q and k); out: [T, H*E].
///
///     causalAttentionForward(out: o, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e, scratch: s)
public func causalAttentionForward(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                                   k: UnsafePointer<Float>, v: UnsafePointer<Float>, tokens t: Int, heads h: Int,
                                   kvHeads g: Int, headDim e: Int, scratch: ScratchBuffer) {
    precondition(g > 0 && h % g == 0, "query heads (\(h)) must be a multiple of key/value heads (\(g))")
    let p = scratch.reserve(t * t)
    for head in 0..<h {
        attentionForwardHead(head, out: out, p: p, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e,
                             causal: true)
    }
}

/// Backward of the forward above, accumulating into dq [T, H*E], dk and dv [T, G*E]: each
/// head's probabilities are computed again, exactly as the forward computed them, so the
/// gradients equal `causalAttentionBackward`'s with saved probabilities bit for bit, for
/// 2·T² floats of scratch instead of H·T².
public func causalAttentionBackwardRecomputing(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                               dv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                               tokens t: Int, heads h: Int, kvHeads g: Int, headDim e: Int,
                                               scratch: ScratchBuffer) {
    precondition(g > 0 && h % g == 0, "query heads (\(h)) must be a multiple of key/value heads (\(g))")
    guard t > 0 else { return }
    let p = scratch.reserve(2 * t * t), dp = p + t * t
    for head in 0..<h {
        attentionProbabilitiesHead(head, p: p, q: q, k: k, tokens: t, heads: h, kvHeads: g, headDim: e, causal: true)
        attentionBackwardHead(head, dq: dq, dk: dk, dv: dv, dOut: dOut, q: q, k: k, v: v, p: p, dp: dp, tokens: t,
                              heads: h, kvHeads: g, headDim: e, causal: true)
    }
}
