import Foundation
import Tensor

// Shape legend: T tokens, D hidden, F MLP width, H query heads, G key/value heads, E head dim.

extension TrainableDecoder {
    /// out = x + attention(norm(x)); out += mlp(norm(out)), keeping what the backward needs.
    func blockForward(_ b: TrainableBlock, _ a: BlockActivations, x: UnsafePointer<Float>,
                      out: UnsafeMutablePointer<Float>, tokens t: Int) {
        let c = config, d = c.hiddenSize, e = c.headDim, h = c.headCount, g = c.kvHeadCount, f = c.intermediateSize
        let qd = h * e, kvd = g * e, half = e / 2
        let xIn = a.xIn.reserve(t * d)
        if xIn != UnsafeMutablePointer(mutating: x) { xIn.update(from: x, count: t * d) }
        let norm1 = a.norm1.reserve(t * d)
        rmsNormForward(norm1, xIn, weight: b.attentionNorm.floats, rows: t, dim: d, eps: c.rmsNormEps)
        let q = a.q.reserve(t * qd), k = a.k.reserve(t * kvd), v = a.v.reserve(t * kvd)
        b.q.forward(q, norm1, rows: t, saved: a.linears[0], rng: &rngState)
        b.k.forward(k, norm1, rows: t, saved: a.linears[1], rng: &rngState)
        b.v.forward(v, norm1, rows: t, saved: a.linears[2], rng: &rngState)
        cos.withUnsafeBufferPointer { cs in
            sin.withUnsafeBufferPointer { sn in
                for i in 0..<t {
                    rope.apply(q + i * qd, heads: h, cos: cs.baseAddress! + i * half, sin: sn.baseAddress! + i * half)
                    rope.apply(k + i * kvd, heads: g, cos: cs.baseAddress! + i * half, sin: sn.baseAddress! + i * half)
                }
            }
        }
        let att = a.att.reserve(t * qd), probs = a.probs.reserve(h * t * t)
        causalAttentionForward(out: att, probs: probs, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e)
        let xMid = a.xMid.reserve(t * d)
        b.o.forward(xMid, att, rows: t, saved: a.linears[3], rng: &rngState)
        addInPlace(xMid, xIn, count: t * d)

        let norm2 = a.norm2.reserve(t * d)
        rmsNormForward(norm2, xMid, weight: b.mlpNorm.floats, rows: t, dim: d, eps: c.rmsNormEps)
        let gate = a.gate.reserve(t * f), up = a.up.reserve(t * f), hh = a.h.reserve(t * f)
        b.gate.forward(gate, norm2, rows: t, saved: a.linears[4], rng: &rngState)
        b.up.forward(up, norm2, rows: t, saved: a.linears[5], rng: &rngState)
        swigluForward(hh, gate: gate, up: up, count: t * f)
        b.down.forward(out, hh, rows: t, saved: a.linears[6], rng: &rngState)
        addInPlace(out, xMid, count: t * d)
    }

    /// The block's backward: dxIn += ∂L/∂x given dxOut = ∂L/∂out; parameter gradients accumulate.
    /// Intermediate gradients live in `g`, reused across blocks and steps (no allocation per call).
    func blockBackward(_ b: TrainableBlock, _ a: BlockActivations, dxOut: UnsafePointer<Float>,
                       dxIn: UnsafeMutablePointer<Float>, tokens t: Int, scratch g: BackwardScratch) {
        let c = config, d = c.hiddenSize, e = c.headDim, h = c.headCount, kvh = c.kvHeadCount, f = c.intermediateSize
        let qd = h * e, kvd = kvh * e, half = e / 2
        // MLP branch: out = xMid + down(swiglu(gate(n2), up(n2))), n2 = norm(xMid)
        let dxMid = g.zeroed(0, t * d)
        dxMid.update(from: dxOut, count: t * d)
        let dh = g.zeroed(1, t * f)
        b.down.backward(dx: dh, dy: dxOut, x: a.h.pointer, rows: t, saved: a.linears[6])
        let dGate = g.zeroed(2, t * f), dUp = g.zeroed(3, t * f)
        swigluBackward(dGate: dGate, dUp: dUp, dOut: dh, gate: a.gate.pointer, up: a.up.pointer, count: t * f)
        let dNorm2 = g.zeroed(4, t * d)
        b.gate.backward(dx: dNorm2, dy: dGate, x: a.norm2.pointer, rows: t, saved: a.linears[4])
        b.up.backward(dx: dNorm2, dy: dUp, x: a.norm2.pointer, rows: t, saved: a.linears[5])
        withGradient(b.mlpNormParameter) { dW in
            rmsNormBackward(dx: dxMid, dWeight: dW, dy: dNorm2, x: a.xMid.pointer, weight: b.mlpNorm.floats,
                            rows: t, dim: d, eps: c.rmsNormEps)
        }
        // Attention branch: xMid = xIn + o(attn(rope(q(n1)), rope(k(n1)), v(n1))), n1 = norm(xIn)
        addInPlace(dxIn, dxMid, count: t * d)
        let dAtt = g.zeroed(5, t * qd)
        b.o.backward(dx: dAtt, dy: dxMid, x: a.att.pointer, rows: t, saved: a.linears[3])
        let dq = g.zeroed(6, t * qd), dk = g.zeroed(7, t * kvd), dv = g.zeroed(8, t * kvd)
        causalAttentionBackward(dq: dq, dk: dk, dv: dv, dOut: dAtt, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer,
                                probs: a.probs.pointer, tokens: t, heads: h, kvHeads: kvh, headDim: e, scratch: attScratch)
        cos.withUnsafeBufferPointer { cs in
            sin.withUnsafeBufferPointer { sn in
                for i in 0..<t {
                    rope.applyBackward(dq + i * qd, heads: h, cos: cs.baseAddress! + i * half, sin: sn.baseAddress! + i * half)
                    rope.applyBackward(dk + i * kvd, heads: kvh, cos: cs.baseAddress! + i * half, sin: sn.baseAddress! + i * half)
                }
            }
        }
        let dNorm1 = g.zeroed(9, t * d)
        b.q.backward(dx: dNorm1, dy: dq, x: a.norm1.pointer, rows: t, saved: a.linears[0])
        b.k.backward(dx: dNorm1, dy: dk, x: a.norm1.pointer, rows: t, saved: a.linears[1])
        b.v.backward(dx: dNorm1, dy: dv, x: a.norm1.pointer, rows: t, saved: a.linears[2])
        withGradient(b.attentionNormParameter) { dW in
            rmsNormBackward(dx: dxIn, dWeight: dW, dy: dNorm1, x: a.xIn.pointer, weight: b.attentionNorm.floats,
                            rows: t, dim: d, eps: c.rmsNormEps)
        }
    }
}

/// Gradient scratch of the reverse pass: numbered buffers, grown once, zeroed on use.
final class BackwardScratch {
    private let buffers = (0..<14).map { _ in ScratchBuffer() }

    /// Buffer `i` holding `n` zeros.
    func zeroed(_ i: Int, _ n: Int) -> UnsafeMutablePointer<Float> {
        let p = buffers[i].reserve(n)
        p.update(repeating: 0, count: n)
        return p
    }
}
