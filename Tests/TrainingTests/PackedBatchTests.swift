import Foundation
import LLaVA
import Tensor
import TestSupport
import Training
import XCTest

/// The packed batch (all sequences of a batch as the rows of one GEMM per Linear, attention
/// per sequence) gives the loss and gradients of running the sequences one at a time, and
/// gradient checkpointing (block activations recomputed in the backward pass) gives the same
/// gradients as keeping them. On the training fixture's LLaVA, every stage, LoRA with dropout.
final class PackedBatchTests: XCTestCase {
    static let stages: [(String, TrainingStage)] = [
        ("stage1", .pretrain), ("full", .finetuneFull), ("lora", .finetuneLoRA(rank: 4, alpha: 8, dropout: 0.1)),
    ]

    func graph(_ stage: TrainingStage) throws -> LLaVATrainingModel {
        let model = try LLaVAModel(directory: Fixtures.url("training/model"))
        let g = LLaVATrainingModel(model: model, stage: stage, projectorLRScale: 1, seed: 3)
        // B starts non-zero, so that every LoRA gradient is exercised.
        for p in g.parameters where p.name.contains("lora_B") {
            for i in 0..<p.value.count { p.value.floats[i] = Float(i % 7) * 0.01 - 0.03 }
        }
        return g
    }

    /// Loss and every gradient of one accumulate over `examples`.
    func run(_ g: LLaVATrainingModel, _ examples: [TrainingExample]) throws -> (Double, [String: [Float]]) {
        zeroGradients(g.parameters)
        let n = try g.countTargets(examples)
        let loss = try g.accumulate(examples, normalizer: n) / Double(n)
        return (loss, Dictionary(uniqueKeysWithValues: g.parameters.map { ($0.name, $0.grad) }))
    }

    func assertSame(_ a: (Double, [String: [Float]]), _ b: (Double, [String: [Float]]), tolerance: Float, _ what: String) {
        XCTAssertEqual(a.0, b.0, accuracy: Double(tolerance) * abs(b.0), "\(what) loss")
        XCTAssertEqual(a.1.keys.sorted(), b.1.keys.sorted(), what)
        for (name, want) in b.1 {
            let got = a.1[name]!
            let scale = max(want.map(abs).max() ?? 0, 1e-12)
            XCTAssertGreaterThan(scale, 1e-12, "\(what) \(name): zero gradient tests nothing")
            XCTAssertLessThanOrEqual(maxAbsDifference(got, want) / scale, tolerance, "\(what) \(name): \(differenceReport(got, want))")
        }
    }

    func testPackedBatchEqualsOneSequenceAtATime() throws {
        let examples = try TrainingParityTests.examples(try TrainingParityTests.reference())
        XCTAssertGreaterThan(examples.count, 2)
        for (name, stage) in Self.stages {
            let packed = try graph(stage), single = try graph(stage)
            single.maxRowsPerPass = 1  // every sequence its own pass
            assertSame(try run(packed, examples), try run(single, examples), tolerance: 1e-5, name)
        }
    }

    func testGradientCheckpointingGivesTheSameGradients() throws {
        let examples = try TrainingParityTests.examples(try TrainingParityTests.reference())
        for (name, stage) in Self.stages {
            let kept = try graph(stage), recomputed = try graph(stage)
            recomputed.decoder.gradientCheckpointing = true
            assertSame(try run(recomputed, examples), try run(kept, examples), tolerance: 1e-6, name)
        }
    }
}
