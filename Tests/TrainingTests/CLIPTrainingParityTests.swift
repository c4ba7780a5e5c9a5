import Checkpoint
import Foundation
import Tensor
import TestSupport
import Training
import XCTest

/// A tiny CLIPModel's contrastive loss, every parameter's gradient and 5 AdamW steps against
/// PyTorch (scripts/fixtures/clip_training.py; regenerate with it if the fixture is stale).
///
/// Tolerances (f32): loss 1e-5 relative; each gradient 1e-3 of its own largest magnitude
/// (max-abs difference / max-abs value: gradients span orders of magnitude and cross zero);
/// step losses 1e-4 relative.
final class CLIPTrainingParityTests: XCTestCase {
    struct Reference: Decodable {
        let input_ids: [[Int]]
        let loss: Double
        let logits_per_text: [Float]
        let lr: Float
        let weight_decay: Float
        let step_losses: [Double]
    }

    static func setUp() throws -> (CLIPTrainingModel, Reference, [Float]) {
        let ref: Reference = try Fixtures.json("clip_training/reference.json")
        let model = try CLIPTrainingModel(directory: Fixtures.url("clip_training/model"))
        let pixels = try Fixtures.tensors("clip_training/inputs.safetensors").tensor("pixel_values")
        XCTAssertEqual(pixels.shape, [4, 3, 16, 16])
        return (model, ref, pixels.toFloatArray())
    }

    func testLossLogitsAndEveryGradientMatchPyTorch() throws {
        let (model, ref, pixels) = try Self.setUp()
        zeroGradients(model.parameters)
        let r = try model.accumulate(pixels: pixels, captions: ref.input_ids)
        let lossError = abs(Double(r.loss) - ref.loss) / abs(ref.loss)
        print("CLIP loss swift \(r.loss) torch \(ref.loss) rel \(lossError)")
        XCTAssertLessThan(lossError, 1e-5)
        XCTAssertLessThan(maxAbsDifference(r.logitsPerText, ref.logits_per_text), 1e-4,
                          differenceReport(r.logitsPerText, ref.logits_per_text))

        let grads = try Fixtures.tensors("clip_training/grads.safetensors")
        XCTAssertEqual(Set(grads.tensorNames), Set(model.parameters.map { "grad." + $0.name }),
                       "parameters differ from the dump; regenerate with scripts/fixtures/clip_training.py")
        var worst: (name: String, error: Float) = ("", 0)
        for p in model.parameters {
            let expected = try grads.tensor("grad." + p.name)
            XCTAssertEqual(expected.shape, p.value.shape, p.name)
            let e = expected.toFloatArray()
            if p.name.hasSuffix("k_proj.bias") {
                // Exactly zero in exact arithmetic: a bias on the keys adds q·b to every score of a
                // row, and softmax ignores a per-row shift. Both sides hold rounding noise only.
                XCTAssertLessThan(max(p.grad.map(abs).max()!, e.map(abs).max()!), 1e-6, p.name)
                continue
            }
            let scale = max(e.map(abs).max() ?? 0, 1e-12)
            let error = maxAbsDifference(p.grad, e) / scale
            if error > worst.error { worst = (p.name, error) }
            XCTAssertLessThan(error, 1e-3, "\(p.name): \(differenceReport(p.grad, e))")
        }
        print("CLIP gradients: \(model.parameters.count) tensors, worst relative max-abs error \(worst.error) (\(worst.name))")
    }

    func testFiveAdamWStepsMatchPyTorch() throws {
        let (model, ref, pixels) = try Self.setUp()
        var adamw = AdamW(weightDecay: ref.weight_decay)
        var losses: [Float] = []
        for _ in ref.step_losses {
            zeroGradients(model.parameters)
            losses.append(try model.accumulate(pixels: pixels, captions: ref.input_ids).loss)
            adamw.step(model.parameters, lr: ref.lr)
            model.clampLogitScale()
        }
        print("CLIP step losses swift \(losses) torch \(ref.step_losses)")
        for (a, b) in zip(losses, ref.step_losses) {
            XCTAssertLessThan(abs(Double(a) - b) / abs(b), 1e-4, "\(losses) vs \(ref.step_losses)")
        }
    }

    /// transformers' two pooling rules: first EOS, or argmax of the ids for the legacy eos 2.
    func testPooledPositionFollowsTransformers() {
        var c = CLIPTextConfiguration(vocabularySize: 50, hiddenSize: 8, layerCount: 1, headCount: 1, maxPositions: 8,
                                      bosTokenID: 1, eosTokenID: 49, padTokenID: 49)
        XCTAssertEqual(c.pooledPosition([1, 5, 49, 49, 49]), 2)
        XCTAssertEqual(c.pooledPosition([1, 5, 6]), 0)
        c.eosTokenID = 2
        XCTAssertEqual(c.pooledPosition([1, 30, 7, 2, 0]), 1)
        XCTAssertEqual(c.pooledPosition([1, 30, 30, 2]), 1)
    }
}
