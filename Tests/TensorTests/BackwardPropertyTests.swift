import Foundation
import Tensor
import TestSupport
import XCTest

/// Properties of the backward kernels that a reference dump cannot show: nil gradients skip
/// their work and leave the others unchanged, results do not depend on the thread count, and
/// attention's and the loss's gradients agree with central finite differences computed in f32.
final class BackwardPropertyTests: XCTestCase {
    func randoms(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return scale * Float(Int64(bitPattern: state >> 11) % 2000 - 1000) / 1000
        }
    }

    func zeros(_ n: Int) -> [Float] { [Float](repeating: 0, count: n) }

    // MARK: - Optional gradients

    /// Every subset of {dx, dW, dBias} as nil: the rest come out bit-identical to the full call.
    func testLinearNilGradientsSkipOnlyTheirWork() {
        let (t, n, k) = (5, 19, 23)
        let x = randoms(t * k, seed: 1), dy = randoms(t * n, seed: 2)
        let scratch = ScratchBuffer()
        for dtype in [DType.f32, .f16] {
            let w = Tensor(randoms(n * k, seed: 3), shape: [n, k]).converted(to: dtype)
            var fx = zeros(t * k), fw = zeros(n * k), fb = zeros(n)
            linearBackward(dx: &fx, dWeight: &fw, dBias: &fb, dy: dy, x: x, weight: w, rows: t, scratch: scratch)
            for mask in 0..<8 {
                var gx = zeros(t * k), gw = zeros(n * k), gb = zeros(n)
                gx.withUnsafeMutableBufferPointer { px in
                    gw.withUnsafeMutableBufferPointer { pw in
                        gb.withUnsafeMutableBufferPointer { pb in
                            linearBackward(dx: mask & 1 == 0 ? nil : px.baseAddress!,
                                           dWeight: mask & 2 == 0 ? nil : pw.baseAddress!,
                                           dBias: mask & 4 == 0 ? nil : pb.baseAddress!,
                                           dy: dy, x: x, weight: w, rows: t, scratch: scratch)
                        }
                    }
                }
                XCTAssertEqual(gx, mask & 1 == 0 ? zeros(t * k) : fx, "\(dtype) mask \(mask): dx")
                XCTAssertEqual(gw, mask & 2 == 0 ? zeros(n * k) : fw, "\(dtype) mask \(mask): dW")
                XCTAssertEqual(gb, mask & 4 == 0 ? zeros(n) : fb, "\(dtype) mask \(mask): dBias")
            }
        }
    }

    func testNormNilParameterGradients() {
        let (t, d) = (4, 13)
        let x = randoms(t * d, seed: 4, scale: 2), w = randoms(d, seed: 5)
        let dy = randoms(t * d, seed: 7)
        var full = zeros(t * d), dw = zeros(d), dx = zeros(t * d)
        rmsNormBackward(dx: &full, dWeight: &dw, dy: dy, x: x, weight: w, rows: t, dim: d, eps: 1e-5)
        rmsNormBackward(dx: &dx, dWeight: nil, dy: dy, x: x, weight: w, rows: t, dim: d, eps: 1e-5)
        XCTAssertEqual(dx, full)
        var lfull = zeros(t * d), ldw = zeros(d), ldb = zeros(d)
        layerNormBackward(dx: &lfull, dWeight: &ldw, dBias: &ldb, dy: dy, x: x, weight: w, rows: t, dim: d, eps: 1e-5)
        var ldx = zeros(t * d), onlyBias = zeros(d)
        layerNormBackward(dx: &ldx, dWeight: nil, dBias: &onlyBias, dy: dy, x: x, weight: w, rows: t, dim: d, eps: 1e-5)
        XCTAssertEqual(ldx, lfull)
        XCTAssertEqual(onlyBias, ldb)
        var ldx2 = zeros(t * d), onlyWeight = zeros(d)
        layerNormBackward(dx: &ldx2, dWeight: &onlyWeight, dBias: nil, dy: dy, x: x, weight: w, rows: t, dim: d, eps: 1e-5)
        XCTAssertEqual(ldx2, lfull)
        XCTAssertEqual(onlyWeight, ldw)
    }

    /// Without dLogits the loss is the same; rows all ignored count nothing and write nothing.
    func testCrossEntropyLossOnlyAndAllIgnored() {
        let (t, v) = (6, 31)
        let logits = randoms(t * v, seed: 8, scale: 4)
        let targets: [Int32] = [3, -100, 30, 0, -100, 17]
        var d = zeros(t * v)
        let with = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v, dLogits: &d, scale: 0.5)
        let without = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v, dLogits: nil, scale: 0.5)
        XCTAssertEqual(with.lossSum, without.lossSum)
        XCTAssertEqual(with.count, 4)
        for r in [1, 4] { XCTAssertEqual(Array(d[(r * v)..<((r + 1) * v)]), zeros(v), "ignored row \(r)") }
        // Each counted row's gradient sums to zero (softmax sums to 1, minus the one-hot).
        for r in [0, 2, 3, 5] { XCTAssertEqual(d[(r * v)..<((r + 1) * v)].reduce(0, +), 0, accuracy: 1e-6) }
        var untouched = [Float](repeating: 7, count: t * v)
        let none = crossEntropyForwardBackward(logits: logits, targets: [Int32](repeating: -100, count: t), rows: t,
                                               vocabulary: v, dLogits: &untouched, scale: 1)
        XCTAssertEqual(none.lossSum, 0)
        XCTAssertEqual(none.count, 0)
        XCTAssertEqual(untouched, [Float](repeating: 7, count: t * v))
    }

    // MARK: - Threads

    /// Sizes large enough that `parallelFor` really splits rows and columns: the results must be
    /// bit-identical to one thread (each value is computed in the same order either way).
    func testThreadedEqualsSingleThread() {
        let (t, d, v) = (300, 203, 517)
        let x = randoms(t * d, seed: 9, scale: 2), w = randoms(d, seed: 10), dy = randoms(t * d, seed: 11)
        let logits = randoms(t * v, seed: 12, scale: 5)
        let targets = (0..<t).map { Int32($0 % 7 == 0 ? -100 : ($0 * 37) % v) }
        let tokens = (0..<t).map { $0 % 11 == 0 ? -1 : ($0 * 13) % 40 }
        let scratch = ScratchBuffer()
        func run() -> [[Float]] {
            var r1 = zeros(t * d), r2 = zeros(d), l1 = zeros(t * d), l2 = zeros(d), l3 = zeros(d)
            rmsNormBackward(dx: &r1, dWeight: &r2, dy: dy, x: x, weight: w, rows: t, dim: d, eps: 1e-6)
            layerNormBackward(dx: &l1, dWeight: &l2, dBias: &l3, dy: dy, x: x, weight: w, rows: t, dim: d, eps: 1e-6)
            var sg = zeros(t * d), su = zeros(t * d), ge = zeros(t * d), qg = zeros(t * d)
            swigluBackward(dGate: &sg, dUp: &su, dOut: dy, gate: x, up: dy, count: t * d)
            geluBackward(dx: &ge, dy: dy, x: x, count: t * d)
            quickGELUBackward(dx: &qg, dy: dy, x: x, count: t * d)
            var dl = zeros(t * v)
            let loss = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v, dLogits: &dl, scale: 0.01)
            var table = zeros(40 * d)
            embeddingBackward(dTable: &table, dOut: dy, tokens: tokens, dim: d)
            var lb = zeros(d)
            linearBackward(dx: nil, dWeight: nil, dBias: &lb, dy: dy, x: x, weight: Tensor(zeros: [d, d]), rows: t, scratch: scratch)
            return [r1, r2, l1, l2, l3, sg, su, ge, qg, dl, [Float(loss.lossSum), Float(loss.count)], table, lb]
        }
        let before = Compute.threads
        defer { Compute.setThreads(before) }
        Compute.setThreads(1)
        let serial = run()
        Compute.setThreads(2)
        let threaded = run()
        for (i, (a, b)) in zip(serial, threaded).enumerated() { XCTAssertEqual(a, b, "result \(i)") }
    }

    // MARK: - Finite differences

    /// Attention's analytic gradient against central differences of L = Σ out ⊙ dy, in f32:
    /// step 1e-2 on O(1) inputs keeps both rounding noise (~1e-5 / 2e-2) and truncation (~h²)
    /// near 1e-3, so the bound is 1e-2 relative (absolute below |g| = 0.1).
    func testAttentionMatchesFiniteDifferences() {
        for (h, g, causal) in [(6, 2, true), (4, 4, false)] {
            let (t, e) = (7, 8)
            var q = randoms(t * h * e, seed: 13, scale: 1.5), k = randoms(t * g * e, seed: 14, scale: 1.5)
            var v = randoms(t * g * e, seed: 15)
            let dy = randoms(t * h * e, seed: 16)
            func forward(_ q: [Float], _ k: [Float], _ v: [Float], probs: inout [Float]) -> [Float] {
                var out = zeros(t * h * e)
                if causal {
                    causalAttentionForward(out: &out, probs: &probs, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e)
                } else {
                    bidirectionalAttentionForward(out: &out, probs: &probs, q: q, k: k, v: v, tokens: t, heads: h, headDim: e)
                }
                return out
            }
            var probs = zeros(h * t * t)
            _ = forward(q, k, v, probs: &probs)
            var dq = zeros(q.count), dk = zeros(k.count), dv = zeros(v.count)
            if causal {
                causalAttentionBackward(dq: &dq, dk: &dk, dv: &dv, dOut: dy, q: q, k: k, v: v, probs: probs,
                                        tokens: t, heads: h, kvHeads: g, headDim: e, scratch: ScratchBuffer())
            } else {
                bidirectionalAttentionBackward(dq: &dq, dk: &dk, dv: &dv, dOut: dy, q: q, k: k, v: v, probs: probs,
                                               tokens: t, heads: h, headDim: e, scratch: ScratchBuffer())
            }
            func loss() -> Float {
                var p = zeros(h * t * t)
                return zip(forward(q, k, v, probs: &p), dy).reduce(0) { $0 + $1.0 * $1.1 }
            }
            let step: Float = 1e-2
            // First and last rows (the last key is seen only by the last query when causal), every KV head.
            let picks = [0, 5, e + 3, (t - 1) * g * e + 1, (t - 1) * g * e + g * e - 1, 3 * g * e + e]
            for which in 0..<3 {
                for i in picks {
                    func perturb(_ delta: Float) {
                        switch which { case 0: q[i] += delta; case 1: k[i] += delta; default: v[i] += delta }
                    }
                    perturb(step); let up = loss()
                    perturb(-2 * step); let down = loss()
                    perturb(step)
                    let numeric = (up - down) / (2 * step)
                    let analytic = [dq, dk, dv][which][i]
                    XCTAssertLessThanOrEqual(abs(numeric - analytic), 1e-2 * max(abs(analytic), 0.1),
                                             "\(causal ? "causal" : "bidirectional") \(["dq", "dk", "dv"][which])[\(i)]: numeric \(numeric), analytic \(analytic)")
                }
            }
        }
    }

    /// The loss's gradient against central differences of the summed loss (scale 1).
    func testCrossEntropyMatchesFiniteDifferences() {
        let (t, v) = (5, 29)
        var logits = randoms(t * v, seed: 17, scale: 3)
        let targets: [Int32] = [4, -100, 28, 0, 11]
        var d = zeros(t * v)
        _ = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v, dLogits: &d, scale: 1)
        let step: Float = 1e-2
        for i in [4, 7, v + 3, 2 * v + 28, 3 * v, 4 * v + 11, 4 * v + 12] {
            logits[i] += step
            let up = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v, dLogits: nil, scale: 1).lossSum
            logits[i] -= 2 * step
            let down = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v, dLogits: nil, scale: 1).lossSum
            logits[i] += step
            let numeric = Float((up - down) / Double(2 * step))
            XCTAssertLessThanOrEqual(abs(numeric - d[i]), 1e-2 * max(abs(d[i]), 0.1), "dLogits[\(i)]: numeric \(numeric), analytic \(d[i])")
        }
    }
}
