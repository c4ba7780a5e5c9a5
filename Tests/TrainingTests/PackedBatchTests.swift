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

    let checks = TrainingGraphChecks()
    func graph(_ stage: TrainingStage) throws -> LLaVATrainingModel { try checks.graph(stage) }
    func run(_ g: LLaVATrainingModel, _ examples: [TrainingExample]) throws -> (Double, [String: [Float]]) {
        try checks.run(g, examples)
    }
    func assertSame(_ a: (Double, [String: [Float]]), _ b: (Double, [String: [Float]]), tolerance: Float, _ what: String) {
        checks.assertSame(a, b, tolerance: tolerance, what)
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
