import Foundation
import Tensor

// Shape legend: R rows of a packed batch, T_s tokens of sequence s, D hidden, F MLP width,
// H query heads, G key/value heads, E head dim.

extension TrainableDecoder {
    /// out = x + attention(norm(x)); out += mlp(norm(out)), keeping what the backward needs.
    /// Every Linear is one GEMM over the R rows; rotary and attention run per sequence.
    func blockForward(_ b: TrainableBlock, _ a: BlockActivations, x xIn: UnsafePointer<Float>,
                      out: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize, e = c.headDim, h = c.headCount, g = c.kvHeadCount, f = c.intermediateSize
        let qd = h * e, kvd = g * e, r = batch.rows
        let norm1 = a.norm1.reserve(r * d)
        rmsNormForward(norm1, xIn, weight: b.attentionNorm.floats, rows: r, dim: d, eps: c.rmsNormEps)
        let q = a.q.reserve(r * qd), k = a.k.reserve(r * kvd), v = a.v.reserve(r * kvd)
        b.q.forward(q, norm1, rows: r, saved: a.linears[0], batch: batch)
        b.k.forward(k, norm1, rows: r, saved: a.linears[1], batch: batch)
        b.v.forward(v, norm1, rows: r, saved: a.linears[2], batch: batch)
        rotate(q, k, backward: false)
        let att = a.att.reserve(r * qd)
        // Checkpointing keeps no (H, T, T) probabilities: the backward recomputes them head by head.
        let probs = gradientCheckpointing ? nil : a.probs.reserve(batch.probabilityCount)
        for s in 0..<batch.count {
            let r0 = batch.starts[s]
            if let probs {
                causalAttentionForward(out: att + r0 * qd, probs: probs + batch.probabilityOffsets[s], q: q + r0 * qd,
                                       k: k + r0 * kvd, v: v + r0 * kvd, tokens: batch.lengths[s], heads: h, kvHeads: g, headDim: e)
            } else {
                causalAttentionForward(out: att + r0 * qd, q: q + r0 * qd, k: k + r0 * kvd, v: v + r0 * kvd,
                                       tokens: batch.lengths[s], heads: h, kvHeads: g, headDim: e, scratch: attScratch)
            }
        }
        let xMid = a.xMid.reserve(r * d)
        b.o.forward(xMid, att, rows: r, saved: a.linears[3], batch: batch)
        addInPlace(xMid, xIn, count: r * d)

        let norm2 = a.norm2.reserve(r * d)
        rmsNormForward(norm2, xMid, weight: b.mlpNorm.floats, rows: r, dim: d, eps: c.rmsNormEps)
        // h = swiglu(gate, up) is not kept: the backward makes it again (in gradient buffer 2).
        let gate = a.gate.reserve(r * f), up = a.up.reserve(r * f), hh = backwardScratch.buffer(2, r * f)
        b.gate.forward(gate, norm2, rows: r, saved: a.linears[4], batch: batch)
        b.up.forward(up, norm2, rows: r, saved: a.linears[5], batch: batch)
        swigluForward(hh, gate: gate, up: up, count: r * f)
        b.down.forward(out, hh, rows: r, saved: a.linears[6], batch: batch)
        addInPlace(out, xMid, count: r * d)
    }

    /// Rotary embedding of q (R, H*E) and k (R, G*E) in place, each row at its position within
    /// its own sequence; `backward` applies the inverse rotation to their gradients.
    private func rotate(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>, backward: Bool) {
        let e = config.headDim, h = config.headCount, g = config.kvHeadCount, half = e / 2
        let qd = h * e, kvd = g * e
        cos.withUnsafeBufferPointer { cs in
            sin.withUnsafeBufferPointer { sn in
                for s in 0..<batch.count {
                    let r0 = batch.starts[s]
                    for i in 0..<batch.lengths[s] {
                        let c = cs.baseAddress! + i * half, si = sn.baseAddress! + i * half
                        let qr = q + (r0 + i) * qd, kr = k + (r0 + i) * kvd
                        if backward {
                            rope.applyBackward(qr, heads: h, cos: c, sin: si)
                            rope.applyBackward(kr, heads: g, cos: c, sin: si)
                        } else {
                            rope.apply(qr, heads: h, cos: c, sin: si)
                            rope.apply(kr, heads: g, cos: c, sin: si)
                        }
                    }
                }
            }
        }
    }

    /// The block's backward: dxIn = ∂L/∂x (overwritten) given dxOut = ∂L/∂out and the block's
    /// input x; parameter gradients accumulate. Intermediate gradients live in `g`, reused
    /// across blocks and steps (no allocation per call); a buffer whose first write covers it
    /// whole is not zeroed first. Four buffers serve the whole pass, each reused once its
    /// gradient is consumed: 0 dxMid → dk, 1 dh → dUp (in place) → dq, 2 h → dGate → dAtt →
    /// dNorm1, 4 dNorm2 → dv.
    func blockBackward(_ b: TrainableBlock, _ a: BlockActivations, x: UnsafePointer<Float>, dxOut: UnsafePointer<Float>,
                       dxIn: UnsafeMutablePointer<Float>, scratch g: BackwardScratch) {
        let c = config, d = c.hiddenSize, e = c.headDim, h = c.headCount, kvh = c.kvHeadCount, f = c.intermediateSize
        let qd = h * e, kvd = kvh * e, r = batch.rows
        // MLP branch: out = xMid + down(swiglu(gate(n2), up(n2))), n2 = norm(xMid)
        let dxMid = g.buffer(0, r * d)
        dxMid.update(from: dxOut, count: r * d)
        let dh = g.buffer(1, r * f), hh = g.buffer(2, r * f)
        swigluForward(hh, gate: a.gate.pointer, up: a.up.pointer, count: r * f)  // as the forward made it
        b.down.backward(dx: dh, dy: dxOut, x: hh, rows: r, saved: a.linears[6], overwrite: true)
        let dGate = hh, dUp = dh  // dUp overwrites dh element by element, after reading it
        swigluBackward(dGate: dGate, dUp: dUp, dOut: dh, gate: a.gate.pointer, up: a.up.pointer, count: r * f,
                       accumulate: false)
        let dNorm2 = g.buffer(4, r * d)
        b.gate.backward(dx: dNorm2, dy: dGate, x: a.norm2.pointer, rows: r, saved: a.linears[4], overwrite: true)
        b.up.backward(dx: dNorm2, dy: dUp, x: a.norm2.pointer, rows: r, saved: a.linears[5])
        withGradient(b.mlpNormParameter) { dW in
            rmsNormBackward(dx: dxMid, dWeight: dW, dy: dNorm2, x: a.xMid.pointer, weight: b.mlpNorm.floats,
                            rows: r, dim: d, eps: c.rmsNormEps)
        }
        // Attention branch: xMid = xIn + o(attn(rope(q(n1)), rope(k(n1)), v(n1))), n1 = norm(xIn)
        dxIn.update(from: dxMid, count: r * d)
        let dAtt = g.buffer(2, r * qd)
        b.o.backward(dx: dAtt, dy: dxMid, x: a.att.pointer, rows: r, saved: a.linears[3], overwrite: true)
        let dq = g.zeroed(1, r * qd), dk = g.zeroed(0, r * kvd), dv = g.zeroed(4, r * kvd)
        for s in 0..<batch.count {
            let r0 = batch.starts[s]
            let (dqS, dkS, dvS, dOutS) = (dq + r0 * qd, dk + r0 * kvd, dv + r0 * kvd, dAtt + r0 * qd)
            let (qS, kS, vS) = (a.q.pointer + r0 * qd, a.k.pointer + r0 * kvd, a.v.pointer + r0 * kvd)
            if gradientCheckpointing {
                causalAttentionBackwardRecomputing(dq: dqS, dk: dkS, dv: dvS, dOut: dOutS, q: qS, k: kS, v: vS,
                                                   tokens: batch.lengths[s], heads: h, kvHeads: kvh, headDim: e,
                                                   scratch: attScratch)
            } else {
                causalAttentionBackward(dq: dqS, dk: dkS, dv: dvS, dOut: dOutS, q: qS, k: kS, v: vS,
                                        probs: a.probs.pointer + batch.probabilityOffsets[s], tokens: batch.lengths[s],
                                        heads: h, kvHeads: kvh, headDim: e, scratch: attScratch)
            }
        }
        rotate(dq, dk, backward: true)
        let dNorm1 = g.buffer(2, r * d)
        b.q.backward(dx: dNorm1, dy: dq, x: a.norm1.pointer, rows: r, saved: a.linears[0], overwrite: true)
        b.k.backward(dx: dNorm1, dy: dk, x: a.norm1.pointer, rows: r, saved: a.linears[1])
        b.v.backward(dx: dNorm1, dy: dv, x: a.norm1.pointer, rows: r, saved: a.linears[2])
        withGradient(b.attentionNormParameter) { dW in
            rmsNormBackward(dx: dxIn, dWeight: dW, dy: dNorm1, x: x, weight: b.attentionNorm.floats,
                            rows: r, dim: d, eps: c.rmsNormEps)
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

    /// Buffer `i` of at least `n` floats, contents undefined (the caller writes all of it first).
    func buffer(_ i: Int, _ n: Int) -> UnsafeMutablePointer<Float> { buffers[i].reserve(n) }
}

