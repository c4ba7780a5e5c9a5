import Checkpoint
import Foundation
import LLaVA
import Language
import TestSupport
import Vision
import XCTest

/// Every stage of LLaVA against transformers/PyTorch (scripts/fixtures/llava.py): pixels,
/// selected vision features, projector output, spliced embeddings, last logits, greedy tokens.
///
/// Tolerances (f32 compute): pixel values 1e-5 (the same uint8 pixels, then one multiply-add);
/// features, projections and embeddings 1e-4 max-abs; logits 2e-4 max-abs (values O(10), three
/// towers of summation-order differences); greedy tokens exactly.
final class LLaVAParityTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable { let image: String; let input_ids: [Int]; let greedy: [Int] }
        let layout: String
        let prompt: String
        let new_tokens: Int
        let cases: [Case]
    }

    /// Model directory → (reference name, vision tower directory for the original layout).
    static let models: [(String, String, String?)] = [
        ("hf-mlp2x-default", "hf-mlp2x-default", nil),
        ("hf-mlp2x-default-hub", "hf-mlp2x-default", nil),
        ("hf-mlp2x-default-v4x", "hf-mlp2x-default", nil),
        ("hf-mlp2x-full-last", "hf-mlp2x-full-last", nil),
        ("orig-mlp2x", "orig-mlp2x", "orig-mlp2x-clip"),
        ("orig-linear", "orig-linear", "orig-linear-clip"),
    ]

    func load(_ dir: String, tower: String?) throws -> LLaVAModel {
        try LLaVAModel(directory: Fixtures.url("llava/\(dir)"), visionTower: tower.map { Fixtures.url("llava/\($0)") })
    }

    func image(_ name: String) throws -> RGBImage {
        try ImageDecoder.decode(contentsOf: Fixtures.url("images/\(name)"))
    }

    func check(_ actual: [Float], _ name: String, in dump: SafeTensorsFile, tolerance: Float, _ label: String) throws {
        let expected = try dump.tensor(name).toFloatArray()
        XCTAssertEqual(actual.count, expected.count, "\(label) \(name): size")
        guard actual.count == expected.count else { return }
        XCTAssertLessThan(maxAbsDifference(actual, expected), tolerance, "\(label) \(name): \(differenceReport(actual, expected))")
    }

    func testEachStageMatchesTheReference() throws {
        for (dir, refName, tower) in Self.models {
            let model = try load(dir, tower: tower)
            let ref: Reference = try Fixtures.json("llava/\(refName).reference.json")
            let dump = try Fixtures.tensors("llava/\(refName).reference.safetensors")
            XCTAssertEqual(model.configuration.layout, ref.layout == "hf" ? .llavaHF : .original)
            for (i, c) in ref.cases.enumerated() {
                let label = "\(dir) \(c.image)"
                let pixels = model.pixelValues(for: try image(c.image)).values
                try check(pixels, "\(i).pixel_values", in: dump, tolerance: 1e-5, label)
                let features = try model.vision.features(pixelValues: pixels, featureLayer: model.configuration.visionFeatureLayer,
                                                         selection: model.configuration.featureSelection)
                try check(features, "\(i).features", in: dump, tolerance: 1e-4, label)
                let projected = try model.project(pixelValues: pixels)
                try check(projected, "\(i).projected", in: dump, tolerance: 1e-4, label)

                let items = try model.promptEncoder.encode(ref.prompt, imageCount: 1)
                let ids = items.map { item -> Int in
                    if case .token(let t) = item { return t }
                    return model.configuration.layout == .llavaHF ? model.configuration.imageTokenID : -200
                }
                // The original layout has one placeholder where llava-hf has one id per feature.
                let collapsed = model.configuration.layout == .original ? collapse(ids, placeholder: -200) : ids
                XCTAssertEqual(collapsed, c.input_ids, "\(label): prompt ids")
                let embeddings = try model.embeddings(for: items[...], images: [0: projected])
                try check(embeddings, "\(i).embeds", in: dump, tolerance: 1e-4, label)
                let logits = try model.language.forward(embeddings: embeddings, cache: model.language.makeCache())
                try check(logits, "\(i).logits", in: dump, tolerance: 2e-4, label)
            }
        }
    }

    func testGreedyTokensEqualTheReference() throws {
        for (dir, refName, tower) in Self.models {
            let model = try load(dir, tower: tower)
            let ref: Reference = try Fixtures.json("llava/\(refName).reference.json")
            for c in ref.cases {
                let result = try model.generate(prompt: ref.prompt, images: [try image(c.image)],
                                                parameters: GenerationParameters(maxNewTokens: ref.new_tokens))
                XCTAssertGreaterThanOrEqual(c.greedy.count, 24)
                XCTAssertEqual(result.tokenIDs, c.greedy, "\(dir) \(c.image)")
            }
        }
    }

    func collapse(_ ids: [Int], placeholder: Int) -> [Int] {
        var out: [Int] = []
        for id in ids where !(id == placeholder && out.last == placeholder) { out.append(id) }
        return out
    }
}
