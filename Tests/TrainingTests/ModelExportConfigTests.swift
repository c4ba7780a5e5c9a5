import Foundation
import Language
import LLaVA
@testable import Training
import Vision
import XCTest

/// The llava-hf config that `llava train finetune` writes reads back as the configuration it was
/// written from; layer 0 is spelled negatively, as transformers only collects hidden states for a
/// truthy vision_feature_layer.
final class ModelExportConfigTests: XCTestCase {
    func testFeatureLayerZeroIsWrittenNegatively() throws {
        let text = try LlamaConfiguration(json: [
            "model_type": "llama", "vocab_size": 32, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 2, "rms_norm_eps": 1e-5, "max_position_embeddings": 64,
        ], file: "config.json")
        let vision = CLIPVisionConfiguration(hiddenSize: 16, intermediateSize: 64, layerCount: 4, headCount: 2,
                                             imageSize: 64, patchSize: 16)
        for (layer, written) in [(0, -5), (-1, -1), (2, 2)] {
            let llava = LLaVAConfiguration(layout: .llavaHF, text: text, vision: vision, imageTokenID: 31, visionFeatureLayer: layer,
                                           padsImagesToSquare: false)
            let json = ModelExport.llavaHFConfig(text: text, vision: vision, llava: llava, imageToken: 31)
            XCTAssertEqual(json["vision_feature_layer"] as? Int, written, "layer \(layer)")
            let data = try JSONSerialization.data(withJSONObject: json)
            let back = try LLaVAConfiguration(json: JSONSerialization.jsonObject(with: data) as! [String: Any], file: "config.json")
            // The same hidden state of the 4-layer tower (HF indexing, 5 states).
            let index = { (l: Int) in l < 0 ? 5 + l : l }
            XCTAssertEqual(index(back.visionFeatureLayer), index(layer), "layer \(layer)")
        }
    }
}
