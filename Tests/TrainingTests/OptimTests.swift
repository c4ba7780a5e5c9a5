import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Training

/// AdamW, the cosine-warmup schedule and gradient clipping against PyTorch: ten steps of the HF
/// Trainer's loop dumped by scripts/fixtures/optim.py. If these fail after a change to that
/// script, regenerate with `PYTHON=… scripts/make_fixtures.sh` (or run optim.py directly).
final class OptimTests: XCTestCase {
    struct Reference: Decodable {
        struct Config: Decodable {
            struct Param: Decodable { let name: String; let shape: [Int]; let decays: Bool; let lr_scale: Float }
            let steps: Int, base_lr: Float, warmup_ratio: Float, weight_decay: Float, max_norm: Float
            let params: [Param]
        }
        struct Schedule: Decodable { let total: Int; let warmup_ratio: Float; let warmup_steps: Int; let base_lr: Float; let lrs: [Double] }
        let config: Config
        let lrs: [Double]
        let norms: [Float]
        let schedules: [Schedule]
    }

    func testTenStepsMatchTorch() throws {
        let ref: Reference = try Fixtures.json("optim/optim.json")
        let dump = try Fixtures.tensors("optim/optim.safetensors")
        let c = ref.config
        let params = try c.params.map { p -> Parameter in
            let value = try dump.tensor("init.\(p.name)").toF32()
            XCTAssertEqual(value.shape, p.shape, p.name)
            return Parameter(name: p.name, value: value, decays: p.decays, lrScale: p.lr_scale)
        }
        XCTAssertEqual(params.map(\.decays), params.map { decays(parameterNamed: $0.name, shape: $0.value.shape) },
                       "the fixture's decay choices follow HF's rule")
        let schedule = LearningRateSchedule(baseLR: c.base_lr, totalSteps: c.steps, warmupRatio: c.warmup_ratio)
        var adamw = AdamW(weightDecay: c.weight_decay)
        for k in 0..<c.steps {
            for p in params { p.grad = try dump.tensor("grad.\(k).\(p.name)").toFloatArray() }
            let norm = clipGradientNorm(params, maxNorm: c.max_norm)
            XCTAssertEqual(norm, ref.norms[k], accuracy: 1e-6 * ref.norms[k], "grad norm at step \(k)")
            let lr = schedule.lr(atStep: k)
            XCTAssertEqual(Double(lr), ref.lrs[k], accuracy: 1e-7 * ref.lrs[k] + 1e-15, "lr at step \(k)")
            adamw.step(params, lr: lr)
            for p in params {
                let expected = try dump.tensor("param.\(k).\(p.name)").toFloatArray()
                assertRelative(p.value.toFloatArray(), expected, 1e-6, "\(p.name) after step \(k)")
            }
        }
        for p in params {
            let m = try XCTUnwrap(adamw.state[p.name])
            XCTAssertEqual(m.step, c.steps)
            assertRelative(m.expAvg, try dump.tensor("exp_avg.\(p.name)").toFloatArray(), 1e-5, "exp_avg \(p.name)")
            assertRelative(m.expAvgSq, try dump.tensor("exp_avg_sq.\(p.name)").toFloatArray(), 1e-5, "exp_avg_sq \(p.name)")
        }
    }

    func testScheduleMatchesHF() throws {
        let ref: Reference = try Fixtures.json("optim/optim.json")
        for s in ref.schedules {
            let schedule = LearningRateSchedule(baseLR: s.base_lr, totalSteps: s.total, warmupRatio: s.warmup_ratio)
            XCTAssertEqual(schedule.warmupSteps, s.warmup_steps, "warmup of \(s.total) × \(s.warmup_ratio)")
            for (k, lr) in s.lrs.enumerated() {
                let ours = Double(schedule.lr(atStep: k))
                // Float rounding of the lr is the only difference: ~6e-8 relative.
                XCTAssertEqual(ours, lr, accuracy: 1e-7 * lr + 1e-15, "lr \(k) of \(s.total) × \(s.warmup_ratio), base \(s.base_lr)")
            }
        }
    }

    func testClippingLeavesSmallGradientsAlone() {
        let p = Parameter(name: "w", value: Tensor(zeros: [2, 2]), decays: true)
        p.grad = [0.3, 0, 0.4, 0]
        XCTAssertEqual(clipGradientNorm([p], maxNorm: 1), 0.5, accuracy: 1e-7)
        XCTAssertEqual(p.grad, [0.3, 0, 0.4, 0])
        let q = Parameter(name: "b", value: Tensor(zeros: [1]), decays: false)
        q.grad = [1.2]
        XCTAssertEqual(clipGradientNorm([p, q], maxNorm: 1), 1.3, accuracy: 1e-6)
        XCTAssertEqual(sqrt(p.grad.map { $0 * $0 }.reduce(0, +) + q.grad[0] * q.grad[0]), 1, accuracy: 1e-6)
        q.grad = [.nan]
        XCTAssertTrue(clipGradientNorm([p, q], maxNorm: 1).isNaN)
    }

    func testLargeParameterIsThreadCountIndependent() {
        // Big enough to be split across threads and blocks; one thread must agree bit for bit.
        let n = 300_000
        let run = { (threads: Int) -> ([Float], Float) in
            let saved = Compute.threads
            Compute.setThreads(threads)
            defer { Compute.setThreads(saved) }
            var rng = SplitMix64(seed: 7)
            let p = Parameter(name: "w", value: Tensor((0..<n).map { _ in Float(rng.nextUnit()) - 0.5 }, shape: [n / 100, 100]), decays: true)
            p.grad = (0..<n).map { _ in Float(rng.nextUnit()) - 0.5 }
            let norm = clipGradientNorm([p], maxNorm: 1)
            var adamw = AdamW(weightDecay: 0.1)
            adamw.step([p], lr: 1e-3)
            adamw.step([p], lr: 1e-3)
            return (p.value.toFloatArray(), norm)
        }
        let (one, norm1) = run(1), (two, norm2) = run(4)
        XCTAssertEqual(norm1, norm2)
        XCTAssertEqual(one, two)
    }

    func testStepUpdatesMomentsInPlace() {
        // A copy-on-write copy of the moments each step would double the optimizer's memory
        // traffic; the buffers must stay where they are.
        let p = Parameter(name: "w", value: Tensor(zeros: [64, 64]), decays: true)
        p.grad = .init(repeating: 0.5, count: p.value.count)
        var adamw = AdamW(weightDecay: 0.1)
        adamw.step([p], lr: 1e-3)
        let before = adamw.state["w"]!.expAvg.withUnsafeBufferPointer { $0.baseAddress }
        let beforeSq = adamw.state["w"]!.expAvgSq.withUnsafeBufferPointer { $0.baseAddress }
        adamw.step([p], lr: 1e-3)
        XCTAssertEqual(adamw.state["w"]!.expAvg.withUnsafeBufferPointer { $0.baseAddress }, before)
        XCTAssertEqual(adamw.state["w"]!.expAvgSq.withUnsafeBufferPointer { $0.baseAddress }, beforeSq)
        XCTAssertEqual(adamw.state["w"]!.step, 2)
    }

    func testDecayRuleFollowsHF() {
        let noDecay = ["model.layers.0.input_layernorm.weight", "model.norm.weight", "vision_tower.pre_layrnorm.weight",
                       "mm_projector.0.bias", "model.layers.3.post_attention_layernorm.weight"]
        for name in noDecay { XCTAssertFalse(decays(parameterNamed: name, shape: [8]), name) }
        XCTAssertFalse(decays(parameterNamed: "encoder.q_norm.weight", shape: [4, 4]))
        XCTAssertFalse(decays(parameterNamed: "Final.LayerNorm.w", shape: [4, 4]))
        XCTAssertFalse(decays(parameterNamed: "attn.bias_k", shape: [4, 4]))
        for name in ["mm_projector.0.weight", "model.layers.0.mlp.up_proj.weight", "lm_head.weight",
                     "model.embed_tokens.weight", "normalizer.weight", "layer.norms.weight"] {
            XCTAssertTrue(decays(parameterNamed: name, shape: [4, 4]), name)
        }
    }

    func testZeroGradientsKeepsStorage() {
        let p = Parameter(name: "w", value: Tensor(zeros: [3]), decays: false)
        p.grad = [1, 2, 3]
        zeroGradients([p])
        XCTAssertEqual(p.grad, [0, 0, 0])
    }

    private func assertRelative(_ actual: [Float], _ expected: [Float], _ tolerance: Float, _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        let scale = max(1e-6, expected.map(abs).max() ?? 0)
        let worst = maxAbsDifference(actual, expected)
        XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(what): \(differenceReport(actual, expected))",
                                 file: file, line: line)
    }
}
