import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Training

/// A LoRA Linear with dropout keeps no mask: its backward draws the masks again from the
/// sequences' seeds. Checked against the layer written out by hand with the masks kept
/// (y = x·Wᵀ + s·(x̃·Aᵀ)·Bᵀ, x̃ = x ⊙ mask), forward and every gradient, two packed sequences.
final class LoRADropoutTests: XCTestCase {
    func testBackwardRedrawsTheForwardsMasks() {
        let (k, n, r, p, s) = (24, 20, 4, Float(0.3), Float(2))
        let lengths = [5, 3], rows = 8
        var rng = SplitMix64(seed: 11)
        let random = { (count: Int) in (0..<count).map { _ in Float(rng.nextUnit()) * 2 - 1 } }
        let w = random(n * k), a = random(r * k), b = random(n * r), x = random(rows * k), dy = random(rows * n)
        let linear = TrainableLinear(name: "layers.0.mlp.up_proj", weight: Tensor(w, shape: [n, k]), trainable: false,
                                     bias: nil, trainableBias: false)
        linear.lora = LoRAAdapter(a: Parameter(name: "a", value: Tensor(a, shape: [r, k]), decays: true),
                                  b: Parameter(name: "b", value: Tensor(b, shape: [n, r]), decays: true),
                                  alpha: s * Float(r), dropout: p)
        var batch = PackedSequences()
        batch.set(lengths: lengths, heads: 1, dropoutSeeds: [77, 1234])
        let saved = LinearSaved()
        var y = [Float](repeating: 0, count: rows * n), dx = [Float](repeating: 0, count: rows * k)
        linear.forward(&y, x, rows: rows, saved: saved, batch: batch)
        // Another Linear's pass in between overwrites the shared workspace, as in a real model.
        let other = TrainableLinear(name: "other", weight: Tensor(w, shape: [n, k]), trainable: false, bias: nil,
                                    trainableBias: false)
        other.workspace = linear.workspace
        other.lora = LoRAAdapter(a: Parameter(name: "a2", value: Tensor(a, shape: [r, k]), decays: true),
                                 b: Parameter(name: "b2", value: Tensor(b, shape: [n, r]), decays: true), alpha: 1, dropout: p)
        var scratchY = y
        other.forward(&scratchY, x.map { -$0 }, rows: rows, saved: LinearSaved(), batch: batch)
        linear.backward(dx: &dx, dy: dy, x: x, rows: rows, saved: saved, overwrite: true)

        // The reference: masks drawn once, as the forward always drew them, and kept.
        var mask = [Float](repeating: 0, count: rows * k), row0 = 0
        for (t, seed) in zip(lengths, [UInt64(77), 1234]) {
            var g = SplitMix64(seed: seed ^ fnv1a("layers.0.mlp.up_proj"))
            for i in (row0 * k)..<((row0 + t) * k) { mask[i] = Float(g.nextUnit()) < p ? 0 : 1 / (1 - p) }
            row0 += t
        }
        XCTAssertTrue(mask.contains(0) && mask.contains(1 / (1 - p)), "the masks drop some inputs and keep others")
        let xd = zip(x, mask).map { $0 * $1 }
        func mm(_ m: Int, _ nn: Int, _ kk: Int, _ lhs: (Int, Int) -> Float, _ rhs: (Int, Int) -> Float) -> [Float] {
            (0..<(m * nn)).map { idx in (0..<kk).reduce(Float(0)) { $0 + lhs(idx / nn, $1) * rhs($1, idx % nn) } }
        }
        let u = mm(rows, r, k, { xd[$0 * k + $1] }, { a[$1 * k + $0] })                       // (T, R) = x̃·Aᵀ
        let yRef = zip(mm(rows, n, k, { x[$0 * k + $1] }, { w[$1 * k + $0] }),
                       mm(rows, n, r, { u[$0 * r + $1] }, { b[$1 * r + $0] })).map { $0 + s * $1 }
        let du = mm(rows, r, n, { dy[$0 * n + $1] }, { b[$0 * r + $1] }).map { s * $0 }      // (T, R)
        let dB = mm(n, r, rows, { dy[$1 * n + $0] }, { u[$0 * r + $1] }).map { s * $0 }       // (N, R)
        let dA = mm(r, k, rows, { du[$1 * r + $0] }, { xd[$0 * k + $1] })                     // (R, K)
        let dxLoRA = mm(rows, k, r, { du[$0 * r + $1] }, { a[$0 * k + $1] })
        let dxRef = zip(mm(rows, k, n, { dy[$0 * n + $1] }, { w[$0 * k + $1] }), zip(dxLoRA, mask).map { $0 * $1 }).map { $0 + $1 }
        for (name, got, want) in [("y", y, yRef), ("dx", dx, dxRef), ("dA", linear.lora!.a.grad, dA), ("dB", linear.lora!.b.grad, dB)] {
            XCTAssertLessThanOrEqual(maxAbsDifference(got, want), 1e-5 * max(1, want.map(abs).max()!), "\(name): \(differenceReport(got, want))")
        }
    }
}
