import Checkpoint
import Foundation
import LLaVA
import Tensor
@testable import Training
import XCTest

/// Reading an adapter folder's non-LoRA trainables and config: the reference's key forms, and
/// typed refusals naming the file and key. (`TrainCommandTests` merges real runs end to end.)
final class LoRAAdapterTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A linear projector 3 → 4 with zero weights: the shapes the file must have.
    let base = Projector(kind: .linear, activation: .gelu, layers: [(Tensor(zeros: [4, 3]), Tensor(zeros: [4]))],
                         inputWidth: 3, outputWidth: 4)

    func writeTrainables(_ tensors: [String: Tensor]) throws -> URL {
        let url = dir.appendingPathComponent(LoRAAdapterFiles.nonLoRATrainables)
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: url)
        return url
    }

    /// llava/model/builder.py drops `base_model.`, then `model.` when `model.model.` follows.
    func testReferenceKeysAreStrippedAsTheReferenceMergeDoes() {
        XCTAssertEqual(LoRAAdapterFiles.referenceName("base_model.model.model.mm_projector.0.weight"), "model.mm_projector.0.weight")
        XCTAssertEqual(LoRAAdapterFiles.referenceName("base_model.model.model.mm_projector.weight"), "model.mm_projector.weight")
        XCTAssertEqual(LoRAAdapterFiles.referenceName("model.mm_projector.weight"), "model.mm_projector.weight")
    }

    func testProjectorLoadsFromEitherKeyForm() throws {
        let weight = Tensor((0..<12).map(Float.init), shape: [4, 3]), bias = Tensor([1, 2, 3, 4], shape: [4])
        for prefix in ["base_model.model.", ""] {
            _ = try writeTrainables([prefix + "model.mm_projector.weight": weight, prefix + "model.mm_projector.bias": bias])
            let p = try LoRAAdapterFiles.loadProjector(dir, like: base)
            XCTAssertEqual(p.kind, .linear)
            XCTAssertEqual(p.layers[0].weight.toFloatArray(), weight.toFloatArray(), prefix)
            XCTAssertEqual(p.layers[0].bias?.toFloatArray(), bias.toFloatArray(), prefix)
        }
    }

    func testBadTrainablesNameTheFileAndKey() throws {
        let key = "base_model.model.model.mm_projector.weight", biasKey = "base_model.model.model.mm_projector.bias"
        var url = try writeTrainables([key: Tensor(zeros: [4, 2]), biasKey: Tensor(zeros: [4])])
        XCTAssertThrowsError(try LoRAAdapterFiles.loadProjector(dir, like: base)) { error in
            XCTAssertEqual(error as? AdapterError, .tensorShape(file: url.path, key: key, expected: [4, 3], found: [4, 2]))
        }
        url = try writeTrainables([key: Tensor(zeros: [4, 3]), biasKey: Tensor(zeros: [4]),
                                   "base_model.model.model.embed_tokens.weight": Tensor(zeros: [2, 2])])
        XCTAssertThrowsError(try LoRAAdapterFiles.loadProjector(dir, like: base)) { error in
            XCTAssertEqual(error as? AdapterError, .unexpectedTensors(file: url.path, keys: ["base_model.model.model.embed_tokens.weight"]))
        }
        url = try writeTrainables([key: Tensor(zeros: [4, 3])])
        XCTAssertThrowsError(try LoRAAdapterFiles.loadProjector(dir, like: base)) { error in
            XCTAssertEqual(error as? AdapterError, .missingTensor(file: url.path, key: biasKey))
        }
        try FileManager.default.removeItem(at: url)
        XCTAssertThrowsError(try LoRAAdapterFiles.requireFiles(in: dir)) { error in
            guard case .missingFile(let file, _)? = error as? AdapterError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, dir.appendingPathComponent(LoRAAdapterFiles.adapter).path)
        }
    }

    func testConfigWithoutOrWithABadBaseRecordNamesTheKey() throws {
        let url = dir.appendingPathComponent(LoRAAdapterFiles.config)
        func expect(_ json: [String: Any], key: String) throws {
            try JSONSerialization.data(withJSONObject: json).write(to: url)
            XCTAssertThrowsError(try AdapterConfiguration(directory: dir)) { error in
                guard case .invalidConfig(let file, let k, _)? = error as? AdapterError else { return XCTFail("\(error)") }
                XCTAssertEqual(file, url.path)
                XCTAssertEqual(k, key)
            }
        }
        let peft: [String: Any] = ["peft_type": "LORA", "r": 4, "lora_alpha": 8]
        try expect(peft, key: "llava_base")
        var base: [String: Any] = ["hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 703, "mm_projector_type": "mlp2x_gelu",
                                   "mm_hidden_size": 32, "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch",
                                   "image_aspect_ratio": "pad"]
        try JSONSerialization.data(withJSONObject: peft.merging(["llava_base": base]) { $1 }).write(to: url)
        let read = try AdapterConfiguration(directory: dir)
        XCTAssertEqual(read.base.projector, .mlp(depth: 2))
        XCTAssertEqual(read.base.visionFeatureLayer, -2)
        XCTAssertTrue(read.base.padsImagesToSquare)
        base["mm_projector_type"] = "qformer"
        try expect(peft.merging(["llava_base": base]) { $1 }, key: "llava_base.mm_projector_type")
    }
}
