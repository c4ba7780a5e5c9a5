import Foundation
import LLaVA
import Tensor
import TestSupport
import Training
import XCTest

/// The training fixture's LLaVA as a training graph, one accumulate's loss and gradients, and
/// their comparison: shared by the tests that run one batch two ways (PackedBatchTests,
/// ThreadShardTests).
struct TrainingGraphChecks {
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

    func assertSame(_ a: (Double, [String: [Float]]), _ b: (Double, [String: [Float]]), tolerance: Float, _ what: String,
                    requireNonZero: Bool = true) {
        XCTAssertEqual(a.0, b.0, accuracy: Double(tolerance) * abs(b.0), "\(what) loss")
        XCTAssertEqual(a.1.keys.sorted(), b.1.keys.sorted(), what)
        for (name, want) in b.1 {
            let got = a.1[name]!
            let scale = max(want.map(abs).max() ?? 0, 1e-12)
            if requireNonZero { XCTAssertGreaterThan(scale, 1e-12, "\(what) \(name): zero gradient tests nothing") }
            XCTAssertLessThanOrEqual(maxAbsDifference(got, want) / scale, tolerance, "\(what) \(name): \(differenceReport(got, want))")
        }
    }
}
