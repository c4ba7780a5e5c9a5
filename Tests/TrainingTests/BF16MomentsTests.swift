import Foundation
import Tensor
import XCTest
@testable import Training

/// AdamW with its moments kept in bf16 (`MomentPrecision.bf16`, an explicit option): the
/// rounding is stochastic and unbiased, a step does torch's arithmetic in f32 between the
/// roundings, and many steps stay close to f32 AdamW. (Exact resume: `CheckpointingTests`.)
final class BF16MomentsTests: XCTestCase {
    func randoms(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (Float(rng.nextUnit()) * 2 - 1) * scale }
    }

    /// Over all 2¹⁶ noises, x rounds to one of its two bf16 neighbours, up in exactly the
    /// fraction of cases its dropped bits say: the mean is x itself.
    func testStochasticRoundingIsUnbiased() {
        for x: Float in [1.0009765, 3.14159, -2.7182817, 1e-20, 6.0e4, 0.0999, 1] {
            let down = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
            let up = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
            var sum = 0.0
            for noise in 0..<UInt32(1 << 16) {
                let r = Float(bitPattern: UInt32(bf16Stochastic(x, noise: noise)) << 16)
                XCTAssertTrue(r == down || r == up, "\(x) rounded to \(r), not \(down) or \(up)")
                sum += Double(r)
            }
            XCTAssertEqual(sum / 65536, Double(x), accuracy: 1e-12 * abs(Double(x)), "mean rounding of \(x)")
        }
        XCTAssertEqual(bf16Stochastic(.infinity, noise: 0xFFFF), 0x7F80)
        XCTAssertTrue(Float(bitPattern: UInt32(bf16Stochastic(.nan, noise: 0xFFFF)) << 16).isNaN)
    }

    /// From zero moments, step 1 moves the parameters exactly as f32 AdamW does (the update reads
    /// the f32 moments before rounding), and each stored moment is a bf16 neighbour of torch's.
    func testFirstStepIsTorchsThenMomentsRoundToNeighbours() {
        var rng = SplitMix64(seed: 5)
        let value = randoms(3000, &rng), grad = randoms(3000, &rng, scale: 0.01)
        let p32 = Parameter(name: "a.weight", value: Tensor(value, shape: [30, 100]), decays: true)
        let p16 = Parameter(name: "a.weight", value: Tensor(value, shape: [30, 100]), decays: true)
        p32.grad = grad
        p16.grad = grad
        var f32 = AdamW(weightDecay: 0.1), bf16 = AdamW(weightDecay: 0.1, momentPrecision: .bf16)
        f32.step([p32], lr: 1e-3)
        bf16.step([p16], lr: 1e-3)
        XCTAssertEqual(p16.value.toFloatArray().map(\.bitPattern), p32.value.toFloatArray().map(\.bitPattern))
        let (m32, m16) = (f32.state["a.weight"]!, bf16.state["a.weight"]!)
        XCTAssertTrue(m16.isBF16)
        XCTAssertEqual(m16.expAvg.count + m16.expAvgSq.count, 0, "no f32 copies kept")
        for (exact, stored) in [(m32.expAvg, m16.expAvgBF16), (m32.expAvgSq, m16.expAvgSqBF16)] {
            var ups = 0
            for (x, b) in zip(exact, stored) {
                let down = UInt16(x.bitPattern >> 16)
                XCTAssertTrue(b == down || b == down &+ 1, "\(x) stored as \(b)")
                if b != down { ups += 1 }
            }
            XCTAssertGreaterThan(ups, 0, "some roundings go up")
            XCTAssertLessThan(ups, exact.count, "some go down")
        }
    }

    /// 60 steps of noisy gradients: the parameters' movement stays within 1 % of f32 AdamW's.
    func testManyStepsStayCloseToF32() {
        var rng = SplitMix64(seed: 9)
        let value = randoms(4096, &rng), drift = randoms(4096, &rng, scale: 0.01)
        let p32 = Parameter(name: "b.weight", value: Tensor(value, shape: [64, 64]), decays: true)
        let p16 = Parameter(name: "b.weight", value: Tensor(value, shape: [64, 64]), decays: true)
        var f32 = AdamW(weightDecay: 0.01), bf16 = AdamW(weightDecay: 0.01, momentPrecision: .bf16)
        for _ in 0..<60 {
            let noise = randoms(4096, &rng, scale: 0.01)
            p32.grad = zip(drift, noise).map { $0 + $1 }
            p16.grad = p32.grad
            f32.step([p32], lr: 1e-3)
            bf16.step([p16], lr: 1e-3)
        }
        let moved32 = zip(p32.value.toFloatArray(), value).map { $0 - $1 }
        let moved16 = zip(p16.value.toFloatArray(), value).map { $0 - $1 }
        let scale = moved32.map(abs).max()!
        XCTAssertGreaterThan(scale, 0.01, "the parameters moved")
        let worst = zip(moved16, moved32).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst / scale, 1e-2, "largest difference of movement \(worst), movement \(scale)")
    }

    /// The roundings depend on parameter, step and element only: thread counts do not matter.
    func testThreadCountDoesNotChangeTheSteps() {
        func run() -> [UInt32] {
            var rng = SplitMix64(seed: 2)
            let p = Parameter(name: "c.weight", value: Tensor(randoms(1 << 17, &rng), shape: [1 << 9, 1 << 8]), decays: true)
            var opt = AdamW(momentPrecision: .bf16)
            for _ in 0..<3 {
                p.grad = randoms(1 << 17, &rng, scale: 0.1)
                opt.step([p], lr: 1e-2)
            }
            return p.value.toFloatArray().map(\.bitPattern)
        }
        let threads = Compute.threads
        defer { Compute.setThreads(threads) }
        Compute.setThreads(1)
        let serial = run()
        Compute.setThreads(2)
        XCTAssertEqual(run(), serial)
    }
}
