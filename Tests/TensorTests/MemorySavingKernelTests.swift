import Tensor
import XCTest

/// The kernels that save training memory give the results of the ones they stand in for, bit
/// for bit: attention without saved probabilities (each head's softmax recomputed in the
/// backward; grouped-query and plain heads, one token and several), and the cross-entropy
/// that writes its gradient over the logits.
final class MemorySavingKernelTests: XCTestCase {
    func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.nextUnit()) * 3 - 1.5 }
    }

    func testRecomputedProbabilitiesGiveTheSameOutputAndGradients() {
        for (t, h, g, e) in [(9, 6, 2, 8), (1, 4, 4, 8), (33, 4, 1, 16)] {
            let q = randoms(t * h * e, seed: 1), k = randoms(t * g * e, seed: 2), v = randoms(t * g * e, seed: 3)
            let dOut = randoms(t * h * e, seed: 4)
            var kept = [Float](repeating: 0, count: t * h * e), probs = [Float](repeating: 0, count: h * t * t)
            causalAttentionForward(out: &kept, probs: &probs, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e)
            var recomputed = [Float](repeating: .nan, count: t * h * e)
            causalAttentionForward(out: &recomputed, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e,
                                   scratch: ScratchBuffer())
            XCTAssertEqual(recomputed.map(\.bitPattern), kept.map(\.bitPattern), "out, t \(t) h \(h) g \(g)")

            // Non-zero starting gradients: both accumulate.
            let start = (randoms(t * h * e, seed: 5), randoms(t * g * e, seed: 6), randoms(t * g * e, seed: 7))
            var (dq1, dk1, dv1) = start, (dq2, dk2, dv2) = start
            causalAttentionBackward(dq: &dq1, dk: &dk1, dv: &dv1, dOut: dOut, q: q, k: k, v: v, probs: probs,
                                    tokens: t, heads: h, kvHeads: g, headDim: e, scratch: ScratchBuffer())
            causalAttentionBackwardRecomputing(dq: &dq2, dk: &dk2, dv: &dv2, dOut: dOut, q: q, k: k, v: v,
                                               tokens: t, heads: h, kvHeads: g, headDim: e, scratch: ScratchBuffer())
            for (name, a, b) in [("dq", dq2, dq1), ("dk", dk2, dk1), ("dv", dv2, dv1)] {
                XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(name), t \(t) h \(h) g \(g)")
                // One token: softmax is 1 whatever the score, so only dv moves.
                if t > 1 || name == "dv" {
                    XCTAssertNotEqual(a, name == "dq" ? start.0 : name == "dk" ? start.1 : start.2, "\(name) moved")
                }
            }
        }
    }

    func testInPlaceCrossEntropyEqualsTheAccumulatingOne() {
        let (t, v) = (6, 1000)
        let logits = randoms(t * v, seed: 8).map { $0 * 4 }
        let targets: [Int32] = [3, -100, 999, 0, -100, 512]
        var dLogits = [Float](repeating: 0, count: t * v)
        let want = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v, dLogits: &dLogits,
                                               scale: 1 / 7)
        var inPlace = logits
        let got = crossEntropyForwardBackwardInPlace(logits: &inPlace, targets: targets, rows: t, vocabulary: v, scale: 1 / 7)
        XCTAssertEqual(got.lossSum.bitPattern, want.lossSum.bitPattern, "loss \(got.lossSum) against \(want.lossSum)")
        XCTAssertEqual(got.count, want.count)
        XCTAssertEqual(inPlace.map(\.bitPattern), dLogits.map(\.bitPattern), "the gradient, ignored rows zero")
    }
}
