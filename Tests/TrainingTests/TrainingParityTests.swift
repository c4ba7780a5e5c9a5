import Checkpoint
import Foundation
import LLaVA
import Tensor
import TestSupport
import Training
import XCTest

/// Losses and the gradient of every trainable tensor against PyTorch (scripts/fixtures/training.py).
///
/// Tolerances (f32): the loss to 1e-5 relative; each gradient to 1e-3 of its own largest
/// magnitude (max-abs difference / max-abs value), since gradients of different tensors span
/// several orders of magnitude and many entries sit near zero.
final class TrainingParityTests: XCTestCase {
    struct Reference: Decodable {
        struct Sample: Decodable { let input_ids: [Int]; let labels: [Int]; let images: Int }
        struct Stage: Decodable { let loss: Double; let trainable: [String]; let losses: [Double]; let grad_norms: [Double] }
        let samples: [Sample]
        let steps: Int
        let lr: Float
        let warmup_ratio: Float
        let clip: Float
        let weight_decay: Float
        let lora_r: Int
        let lora_alpha: Float
        let stages: [String: Stage]
    }

    static func reference() throws -> Reference { try Fixtures.json("training/reference.json") }

    static func examples(_ ref: Reference) throws -> [TrainingExample] {
        let features = try Fixtures.tensors("training/features.safetensors")
        return try ref.samples.enumerated().map { i, s in
            TrainingExample(inputIDs: s.input_ids, labels: s.labels,
                            imageFeatures: try (0..<s.images).map { try features.tensor("features.\(i).\($0)").toFloatArray() })
        }
    }

    static func graph(_ stage: String, ref: Reference) throws -> LLaVATrainingModel {
        let model = try LLaVAModel(directory: Fixtures.url("training/model"))
        let s: TrainingStage
        switch stage {
        case "stage1": s = .pretrain
        case "full": s = .finetuneFull
        default: s = .finetuneLoRA(rank: ref.lora_r, alpha: ref.lora_alpha, dropout: 0)
        }
        let g = LLaVATrainingModel(model: model, stage: s, projectorLRScale: stage == "lora" ? 2 : 1)
        if stage == "lora" {
            // The fixture starts B non-zero so that A's gradient is exercised too.
            let dump = try Fixtures.tensors("training/lora.safetensors")
            for p in g.parameters where p.name.contains("lora_") {
                let v = try dump.tensor("init.\(p.name)").toFloatArray()
                XCTAssertEqual(v.count, p.value.count, p.name)
                v.withUnsafeBufferPointer { p.value.floats.update(from: $0.baseAddress!, count: v.count) }
            }
        }
        return g
    }

    func testLossAndEveryGradientMatchPyTorch() throws {
        let ref = try Self.reference()
        let examples = try Self.examples(ref)
        for stage in ["stage1", "full", "lora"] {
            let g = try Self.graph(stage, ref: ref)
            let expected = try XCTUnwrap(ref.stages[stage])
            XCTAssertEqual(g.parameters.map(\.name).sorted(), expected.trainable, stage)
            let n = try g.countTargets(examples)
            let loss = try g.accumulate(examples, normalizer: n) / Double(n)
            XCTAssertEqual(loss, expected.loss, accuracy: 1e-5 * expected.loss, stage)
            let dump = try Fixtures.tensors("training/\(stage).safetensors")
            for p in g.parameters {
                let want = try dump.tensor("grad.\(p.name)").toFloatArray()
                let scale = max(want.map(abs).max() ?? 0, 1e-12)
                let err = maxAbsDifference(p.grad, want) / scale
                XCTAssertLessThan(err, 1e-3, "\(stage) \(p.name): \(differenceReport(p.grad, want))")
            }
        }
    }
}

extension TrainingParityTests {
    /// What metrics.jsonl logs: `positions`, the decoder's sequence length with each -200
    /// placeholder expanded to the image's feature rows; `tokens`, the supervised next tokens.
    func testPositionsAndSupervisedTokensCounted() throws {
        let ref = try Self.reference()
        let examples = try Self.examples(ref)
        let g = try Self.graph("stage1", ref: ref)
        let rows = g.featuresPerImage
        XCTAssertGreaterThan(rows, 1)
        let positions = ref.samples.reduce(0) { $0 + $1.input_ids.count + $1.images * (rows - 1) }
        let supervised = ref.samples.reduce(0) { $0 + $1.labels.dropFirst().filter { $0 != -100 }.count }
        XCTAssertEqual(try g.countPositions(examples), positions)
        XCTAssertEqual(try g.countTargets(examples), supervised)
    }
}

/// Ten optimizer steps (AdamW, warmup + cosine, clipping, weight decay except biases and
/// norms) follow PyTorch's loss trajectory: each loss within 1e-4 relative (f32 rounding
/// compounds over the steps), each pre-clip gradient norm within 1e-3 relative.
final class TrainingTrajectoryTests: XCTestCase {
    func testTenAdamWStepsFollowPyTorch() throws {
        let ref = try TrainingParityTests.reference()
        let examples = try TrainingParityTests.examples(ref)
        for stage in ["stage1", "full", "lora"] {
            let g = try TrainingParityTests.graph(stage, ref: ref)
            let expected = try XCTUnwrap(ref.stages[stage])
            var optimizer = AdamW(weightDecay: ref.weight_decay)
            let schedule = LearningRateSchedule(baseLR: ref.lr, totalSteps: ref.steps, warmupRatio: ref.warmup_ratio)
            let params = g.parameters
            for step in 0..<ref.steps {
                let batch = [examples[(2 * step) % examples.count], examples[(2 * step + 1) % examples.count]]
                zeroGradients(params)
                let n = try g.countTargets(batch)
                let loss = try g.accumulate(batch, normalizer: n) / Double(n)
                let norm = clipGradientNorm(params, maxNorm: ref.clip)
                optimizer.step(params, lr: schedule.lr(atStep: step))
                XCTAssertEqual(loss, expected.losses[step], accuracy: 1e-4 * expected.losses[step], "\(stage) step \(step)")
                XCTAssertEqual(Double(norm), expected.grad_norms[step], accuracy: 1e-3 * expected.grad_norms[step],
                               "\(stage) step \(step) grad norm")
            }
        }
    }
}
