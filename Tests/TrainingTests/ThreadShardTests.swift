import Foundation
import LLaVA
import Tensor
import TestSupport
@testable import Training
import XCTest

/// A batch split over the threads (each shard through its own replica single-threaded,
/// gradients summed in shard order) gives the loss and gradients of the unsplit batch on the
/// kernels' own threads, and the same losses over 20 AdamW steps: every LLaVA stage (LoRA
/// with dropout), gradient checkpointing, and CLIP.
///
/// Tolerances (f32; only the summation order differs): loss and each gradient 1e-5 (max-abs
/// difference over the gradient's own largest magnitude); per-step losses 1e-5 relative.
final class ThreadShardTests: XCTestCase {
    private var savedThreads = 1

    override func setUp() { savedThreads = Compute.threads }
    override func tearDown() { Compute.setThreads(savedThreads) }

    /// PackedBatchTests' fixtures and comparisons (zero gradients allowed here).
    struct Helpers {
        let checks = TrainingGraphChecks()
        func graph(_ stage: TrainingStage) throws -> LLaVATrainingModel { try checks.graph(stage) }
        func run(_ g: LLaVATrainingModel, _ examples: [TrainingExample]) throws -> (Double, [String: [Float]]) {
            try checks.run(g, examples)
        }
        func assertSame(_ a: (Double, [String: [Float]]), _ b: (Double, [String: [Float]]), tolerance: Float, _ what: String) {
            checks.assertSame(a, b, tolerance: tolerance, what, requireNonZero: false)
        }
    }

    func testBalancedShardsAreContiguousAndEvenByRows() {
        XCTAssertEqual(balancedShards(rows: [4, 4, 4, 4], parts: 2), [0..<2, 2..<4])
        XCTAssertEqual(balancedShards(rows: [10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], parts: 2), [0..<1, 1..<11])
        XCTAssertEqual(balancedShards(rows: [1, 1, 1], parts: 3), [0..<1, 1..<2, 2..<3])
        XCTAssertEqual(balancedShards(rows: [1, 1], parts: 4), [0..<1, 1..<2])
        XCTAssertEqual(balancedShards(rows: [100, 1, 1], parts: 3), [0..<1, 1..<2, 2..<3])
        XCTAssertEqual(balancedShards(rows: [5], parts: 1), [0..<1])
    }

    func testShardedBatchGivesTheUnshardedLossAndGradients() throws {
        let tests = Helpers()
        let examples = try TrainingParityTests.examples(try TrainingParityTests.reference())
        XCTAssertGreaterThanOrEqual(examples.count, 3)
        for (name, stage) in PackedBatchTests.stages {
            let plain = try tests.graph(stage)
            plain.shardsAcrossThreads = false
            Compute.setThreads(2)
            // Three batches: each draws new LoRA dropout masks (one draw from the stream per batch).
            let want = try (0..<3).map { _ in try tests.run(plain, examples) }
            for threads in [2, 3] {
                let sharded = try tests.graph(stage)
                Compute.setThreads(threads)
                tests.assertSame(try tests.run(sharded, examples), want[0], tolerance: 1e-5, "\(name), \(threads) threads")
                // A second batch on the same replicas: their gradients were zeroed after the sum.
                tests.assertSame(try tests.run(sharded, examples), want[1], tolerance: 1e-5, "\(name), \(threads) threads, again")
                sharded.decoder.gradientCheckpointing = true
                tests.assertSame(try tests.run(sharded, examples), want[2], tolerance: 1e-5,
                                 "\(name), \(threads) threads, checkpointing")
            }
        }
    }

    func testShardedTrainingFollowsTheUnshardedLossesFor20Steps() throws {
        let tests = Helpers()
        let examples = try TrainingParityTests.examples(try TrainingParityTests.reference())
        func losses(_ g: LLaVATrainingModel) throws -> [Double] {
            var adamw = AdamW(weightDecay: 0.01)
            let n = try g.countTargets(examples)
            return try (0..<20).map { _ in
                zeroGradients(g.parameters)
                let loss = try g.accumulate(examples, normalizer: n) / Double(n)
                _ = clipGradientNorm(g.parameters, maxNorm: 1)
                adamw.step(g.parameters, lr: 1e-3)
                return loss
            }
        }
        for (name, stage) in PackedBatchTests.stages {
            Compute.setThreads(2)
            let plain = try tests.graph(stage)
            plain.shardsAcrossThreads = false
            let want = try losses(plain)
            let got = try losses(try tests.graph(stage))
            let worst = zip(got, want).map { abs($0 - $1) / abs($1) }.max()!
            print("thread shards, \(name): 20-step losses \(want.first!) → \(want.last!), worst relative difference \(worst)")
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(name): \(got) vs \(want)")
        }
    }

    func testShardedCLIPFollowsTheUnshardedLossesAndGradients() throws {
        let (plain, ref, pixels) = try CLIPTrainingParityTests.setUp()
        let (sharded, _, _) = try CLIPTrainingParityTests.setUp()
        plain.shardsAcrossThreads = false
        Compute.setThreads(2)
        func step(_ m: CLIPTrainingModel, _ adamw: inout AdamW) throws -> (loss: Float, grads: [[Float]]) {
            zeroGradients(m.parameters)
            let loss = try m.accumulate(pixels: pixels, captions: ref.input_ids).loss
            let grads = m.parameters.map(\.grad)
            adamw.step(m.parameters, lr: 1e-3)
            m.clampLogitScale()
            return (loss, grads)
        }
        var a = AdamW(weightDecay: 0.1), b = AdamW(weightDecay: 0.1)
        var worst: Double = 0
        for s in 0..<20 {
            let want = try step(plain, &a), got = try step(sharded, &b)
            worst = max(worst, abs(Double(got.loss) - Double(want.loss)) / abs(Double(want.loss)))
            guard s == 0 else { continue }
            for (p, (g, w)) in zip(plain.parameters, zip(got.grads, want.grads)) {
                let scale = max(w.map(abs).max() ?? 0, 1e-12)
                if p.name.hasSuffix("k_proj.bias") { continue }  // rounding noise only (see the parity test)
                XCTAssertLessThanOrEqual(maxAbsDifference(g, w) / scale, 1e-5, "\(p.name): \(differenceReport(g, w))")
            }
        }
        print("thread shards, CLIP: worst relative loss difference over 20 steps \(worst)")
        XCTAssertLessThanOrEqual(worst, 1e-5)
    }
}
