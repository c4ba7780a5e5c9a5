import Checkpoint
import Foundation
import Tensor
import TestSupport
import Vision
import XCTest

/// What the tower does besides matching numbers: stopping early, errors, batches, configs.
final class CLIPBehaviourTests: XCTestCase {
    func quick() throws -> CLIPVisionModel { try CLIPVisionModel(directory: Fixtures.url("clip/quick")) }

    func quickPixels() throws -> [Float] {
        try Fixtures.tensors("clip/quick.reference.safetensors").tensor("pixel_values").toFloatArray()
    }

    /// Layer -2 must not run the last layer: observe sees states 0…L-1 only.
    func testForwardStopsAtTheRequestedLayer() throws {
        let model = try quick(), input = try quickPixels()
        let l = model.config.layerCount
        for (layer, last) in [(-2, l - 1), (-1, l), (0, 0), (1, 1), (-(l + 1), 0)] {
            var seen: [Int] = []
            _ = try model.forward(pixelValues: input, throughLayer: layer) { i, _ in seen.append(i) }
            XCTAssertEqual(seen, Array(0...last), "throughLayer \(layer)")
        }
    }

    func testFeatureLayerOutOfRangeIsATypedError() throws {
        let model = try quick(), input = try quickPixels()
        for bad in [4, -5, 100] {
            XCTAssertThrowsError(try model.features(pixelValues: input, featureLayer: bad, selection: .default)) { error in
                XCTAssertEqual(error as? CLIPVisionError, .featureLayerOutOfRange(value: bad, layerCount: 3))
                XCTAssertTrue("\(error)".contains("\(bad)") && "\(error)".contains("3 layers"), "\(error)")
            }
        }
    }

    func testWrongPixelCountNamesBothSizes() throws {
        let model = try quick()
        XCTAssertThrowsError(try model.features(pixelValues: [Float](repeating: 0, count: 3 * 28 * 28),
                                                featureLayer: -2, selection: .default)) { error in
            XCTAssertEqual(error as? CLIPVisionError,
                           .pixelCountMismatch(expected: 2700, found: 2352, channels: 3, imageSize: 30))
            XCTAssertTrue("\(error)".contains("2700") && "\(error)".contains("2352"), "\(error)")
        }
    }

    /// A batch is the images one by one; scratch reuse leaks nothing from one image to the next.
    func testBatchEqualsSingles() throws {
        let model = try quick(), a = try quickPixels()
        let b = a.map { -0.5 * $0 + 0.1 }
        let singles = try [a, b].map { try model.features(pixelValues: $0, featureLayer: -2, selection: .full) }
        let batch = try model.features(batch: [a, b, a], featureLayer: -2, selection: .full)
        XCTAssertEqual(batch, [singles[0], singles[1], singles[0]])
    }

    func testBareDirectoryRejectsForeignTensorsButSkipsTheTextSide() throws {
        // gelu is a CLIPModel directory: text_model.*, projections and logit_scale are skipped.
        XCTAssertNoThrow(try CLIPVisionModel(directory: Fixtures.url("clip/gelu")))
        // llava holds an LLM and a projector too: not a bare CLIP directory.
        XCTAssertThrowsError(try CLIPVisionModel(directory: Fixtures.url("clip/llava"))) { error in
            guard case CLIPVisionError.unexpectedWeights(let names, _)? = error as? CLIPVisionError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(names.contains("multi_modal_projector.linear_1.weight"), "\(names.prefix(3))")
            XCTAssertFalse(names.contains { $0.hasPrefix("vision_tower.") }, "\(names.prefix(3))")
        }
    }

    func testRandomTowerOfARealShapeRuns() throws {
        var c = CLIPVisionConfiguration.vitL14_336
        XCTAssertEqual([c.patchesPerSide, c.patchCount, c.positionCount, c.headDim], [24, 576, 577, 64])
        // A narrow tower of the same geometry keeps the test fast; the real one is for `llava bench`.
        c.hiddenSize = 64; c.intermediateSize = 128; c.layerCount = 2; c.headCount = 4
        let model = CLIPVisionModel.random(config: c, dtype: .f16, seed: 7)
        let input: [Float] = (0..<(3 * 336 * 336)).map { (i: Int) -> Float in Float((i * 7919) % 255) / 255 - 0.5 }
        let features = try model.features(pixelValues: input, featureLayer: -2, selection: .default)
        XCTAssertEqual(features.count, 576 * 64)
        XCTAssertTrue(features.allSatisfy { $0.isFinite })
        let again = CLIPVisionModel.random(config: c, dtype: .f16, seed: 7)
        XCTAssertEqual(try again.features(pixelValues: input, featureLayer: -2, selection: .default), features)
    }
}

/// Configuration decoding: the layouts, transformers' defaults, and errors naming the key.
final class CLIPConfigurationTests: XCTestCase {
    func config(_ json: String) throws -> CLIPVisionConfiguration {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return try CLIPVisionConfiguration(json: object, file: "config.json")
    }

    func testFixtureConfigs() throws {
        let quick = try CLIPVisionConfiguration(contentsOf: Fixtures.url("clip/quick/config.json"))
        XCTAssertEqual(quick, CLIPVisionConfiguration(hiddenSize: 32, intermediateSize: 64, layerCount: 3, headCount: 4,
                                                      imageSize: 30, patchSize: 6, activation: .quickGELU))
        let gelu = try CLIPVisionConfiguration(contentsOf: Fixtures.url("clip/gelu/config.json"))
        XCTAssertEqual(gelu, CLIPVisionConfiguration(hiddenSize: 32, intermediateSize: 80, layerCount: 3, headCount: 2,
                                                     imageSize: 28, patchSize: 7, layerNormEps: 1e-6, activation: .gelu))
        XCTAssertEqual(gelu.positionCount, 17)
        let llava = try CLIPVisionConfiguration(contentsOf: Fixtures.url("clip/llava/config.json"))
        XCTAssertEqual(llava, quick)
    }

    func testDefaultsAreTransformers() throws {
        // A sparse vision_config (llava-hf/llava-1.5-7b-hf omits hidden_act) means CLIPVisionConfig's defaults.
        let sparse = try config(#"{"model_type": "llava", "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024, "image_size": 336, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14, "projection_dim": 768}}"#)
        XCTAssertEqual(sparse, .vitL14_336)
        XCTAssertEqual(try config(#"{"model_type": "clip_vision_model"}"#),
                       CLIPVisionConfiguration(hiddenSize: 768, intermediateSize: 3072, layerCount: 12, headCount: 12,
                                               imageSize: 224, patchSize: 32))
        // LlavaConfig without vision_config builds CLIP ViT-L/14-336.
        XCTAssertEqual(try config(#"{"model_type": "llava", "text_config": {}}"#), .vitL14_336)
    }

    func testBadValuesNameTheirKey() {
        func expect(_ json: String, key: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try config(json), file: file, line: line) { error in
                guard case CLIPVisionError.invalidConfig(let f, let k, _)? = error as? CLIPVisionError else {
                    return XCTFail("\(error)", file: file, line: line)
                }
                XCTAssertEqual(f, "config.json", file: file, line: line)
                XCTAssertEqual(k, key, "\(error)", file: file, line: line)
                XCTAssertTrue("\(error)".contains(key), "\(error)", file: file, line: line)
            }
        }
        expect(#"{"hidden_size": "big"}"#, key: "hidden_size")
        expect(#"{"hidden_size": 30, "num_attention_heads": 4}"#, key: "num_attention_heads")
        expect(#"{"vision_config": {"hidden_act": "relu"}}"#, key: "vision_config.hidden_act")
        expect(#"{"vision_config": {"patch_size": 0}}"#, key: "vision_config.patch_size")
        expect(#"{"vision_config": {"image_size": 10, "patch_size": 14}}"#, key: "vision_config.image_size")
        expect(#"{"vision_config": {"layer_norm_eps": true}}"#, key: "vision_config.layer_norm_eps")
        expect(#"{"vision_config": {"num_hidden_layers": 2.5}}"#, key: "vision_config.num_hidden_layers")
        expect(#"{"vision_config": {"model_type": "siglip_vision_model"}}"#, key: "vision_config.model_type")
        expect(#"{"vision_config": 3}"#, key: "vision_config")
        expect(#"{"model_type": "llama", "hidden_size": 64}"#, key: "model_type")
    }
}

/// The vision kernels against their definitions, written out naively.
final class CLIPKernelTests: XCTestCase {
    func testActivationsMatchTheirFormulas() {
        let xs: [Float] = [-12, -3, -1.5, -0.25, 0, 0.3, 1, 2.5, 9]
        var q = xs, g = xs
        q.withUnsafeMutableBufferPointer { quickGELUInPlace($0.baseAddress!, count: xs.count) }
        g.withUnsafeMutableBufferPointer { geluInPlace($0.baseAddress!, count: xs.count) }
        for (i, x) in xs.enumerated() {
            let dx = Double(x)
            XCTAssertEqual(Double(q[i]), dx / (1 + exp(-1.702 * dx)), accuracy: 1e-6, "quick_gelu(\(x))")
            XCTAssertEqual(Double(g[i]), 0.5 * dx * (1 + erf(dx / 2.0.squareRoot())), accuracy: 1e-6, "gelu(\(x))")
        }
    }

    func testBidirectionalAttentionMatchesNaive() {
        let t = 7, h = 3, e = 5, w = h * e
        var rng = SystemRandomNumberGenerator()
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -2...2, using: &rng) } }
        let q = random(t * w), k = random(t * w), v = random(t * w)
        var out = [Float](repeating: 0, count: t * w), scores = [Float](repeating: 0, count: t * t)
        bidirectionalAttention(out: &out, q: q, k: k, v: v, tokens: t, heads: h, headDim: e, scores: &scores)
        var expected = [Float](repeating: 0, count: t * w)
        for head in 0..<h {
            for i in 0..<t {
                var logits = (0..<t).map { j in
                    (0..<e).reduce(Double(0)) { $0 + Double(q[i * w + head * e + $1]) * Double(k[j * w + head * e + $1]) } / Double(e).squareRoot()
                }
                let m = logits.max()!
                logits = logits.map { exp($0 - m) }
                let sum = logits.reduce(0, +)
                for c in 0..<e {
                    expected[i * w + head * e + c] = Float((0..<t).reduce(Double(0)) { $0 + logits[$1] / sum * Double(v[$1 * w + head * e + c]) })
                }
            }
        }
        XCTAssertLessThan(maxAbsDifference(out, expected), 1e-5, differenceReport(out, expected))
    }
}
