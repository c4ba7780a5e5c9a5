import Foundation
import Tensor
import TestSupport
import Training
import Vision
import XCTest

/// End to end on synthetic data: 8 distinct tiny images with distinct captions are learned to
/// 100% image→text retrieval, and the written directory loads as a CLIP vision tower.
final class CLIPTrainingRunTests: XCTestCase {
    static let vision = CLIPVisionConfiguration(hiddenSize: 16, intermediateSize: 64, layerCount: 2, headCount: 2,
                                                imageSize: 16, patchSize: 8)

    /// Image i: each 8×8 quadrant of each channel on or off by a bit of i·37 + 11 (9 distinct bits).
    static func image(_ i: Int) -> [Float] {
        var out = [Float](repeating: 0, count: 3 * 16 * 16)
        for ch in 0..<3 {
            for y in 0..<16 {
                for x in 0..<16 {
                    let bit = ((i * 37 + 11) >> ((ch * 4 + (y / 8) * 2 + x / 8) % 9)) & 1
                    out[ch * 256 + y * 16 + x] = bit == 1 ? 1.5 : -1.5
                }
            }
        }
        return out
    }

    static func setUp(seed: UInt64) throws -> (CLIPTrainer, URL) {
        let tokenizer = try CLIPTokenizerSetup(directory: Fixtures.url("tokenizer/legacy"))
        let text = CLIPTextConfiguration(vocabularySize: tokenizer.vocabularySize, hiddenSize: 16, layerCount: 2,
                                         headCount: 2, maxPositions: 16, bosTokenID: tokenizer.bosTokenID,
                                         eosTokenID: tokenizer.eosTokenID, padTokenID: tokenizer.padTokenID)
        let model = try CLIPTrainingModel.random(vision: vision, text: text, projectionDim: 16, seed: seed)
        let words = ["red", "blue", "green", "small", "large", "circle", "square", "dog"]
        let pairs = (0..<8).map { CLIPPair(image: "img\($0).png", caption: "a \(words[$0]) \(words[($0 * 3 + 1) % 8])") }
        let encoder = tokenizer.encoder(maxPositions: text.maxPositions)
        var pixels: [String: [Float]] = [:]
        for i in 0..<8 { pixels["img\(i).png"] = image(i) }
        var options = CLIPTrainingOptions()
        options.batchSize = 8
        options.maxSteps = 150
        options.learningRate = 3e-3
        options.warmupRatio = 0.05
        options.weightDecay = 0
        options.saveSteps = 1000
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("clip-run-\(UUID().uuidString)")
        let trainer = try CLIPTrainer(model: model, pairs: pairs, captions: pairs.map { encoder.encode($0.caption) },
                                      images: CLIPImageCache(pixels: pixels, processor: ImageProcessor(configuration: model.imageProcessorConfiguration)),
                                      options: options, outputDirectory: out)
        return (trainer, out)
    }

    func testSyntheticPairsAreLearnedAndTheDirectoryLoads() throws {
        let (trainer, out) = try Self.setUp(seed: 7)
        defer { try? FileManager.default.removeItem(at: out) }
        let tokenizer = try CLIPTokenizerSetup(directory: Fixtures.url("tokenizer/legacy"))
        let summary = try trainer.run(progress: false, tokenizer: tokenizer)
        let all = Array(0..<8)
        let final = try trainer.model.accumulate(pixels: all.flatMap { Self.image($0) }, captions: trainer.captions)
        print("CLIP synthetic: loss \(summary.losses.first!) → \(final.loss), image→text accuracy \(final.imageToTextAccuracy), \(String(format: "%.1f", summary.seconds)) s")
        XCTAssertLessThan(final.loss, summary.losses.first! * 0.2)
        XCTAssertEqual(final.imageToTextAccuracy, 1)

        // The written directory: our inference tower loads it (text side skipped) and its pooled
        // output equals the training tower's post_layernorm class row.
        let tower = try CLIPVisionModel(directory: out)
        XCTAssertEqual(tower.config, Self.vision)
        let pooled = try tower.pooledOutput(pixelValues: Self.image(3))
        let again = try CLIPTrainingModel(directory: out)
        _ = try again.accumulate(pixels: all.flatMap { Self.image($0) }, captions: trainer.captions)
        let expected = Array(UnsafeBufferPointer(start: again.vision.pooledNormRows + 3 * 16, count: 16))
        XCTAssertLessThan(maxAbsDifference(pooled, expected), 1e-5, differenceReport(pooled, expected))
        for file in ["config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json", "metrics.jsonl", "loss.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), file)
        }
        XCTAssertNotNil(TrainingCheckpoint.latest(in: out))
    }
}
