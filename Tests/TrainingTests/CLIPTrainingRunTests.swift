import Checkpoint
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

    static func setUp(seed: UInt64, pairs given: [CLIPPair]? = nil, batchSize: Int = 8, maxSteps: Int = 150,
                      finalPositionNoise: Float? = nil) throws -> (CLIPTrainer, URL) {
        let tokenizer = try CLIPTokenizerSetup(directory: Fixtures.url("tokenizer/legacy"))
        let text = CLIPTextConfiguration(vocabularySize: tokenizer.vocabularySize, hiddenSize: 16, layerCount: 2,
                                         headCount: 2, maxPositions: 16, bosTokenID: tokenizer.bosTokenID,
                                         eosTokenID: tokenizer.eosTokenID, padTokenID: tokenizer.padTokenID)
        let model = try CLIPTrainingModel.random(vision: vision, text: text, projectionDim: 16, seed: seed)
        let words = ["red", "blue", "green", "small", "large", "circle", "square", "dog"]
        let pairs = given ?? (0..<8).map { CLIPPair(image: "img\($0).png", caption: "a \(words[$0]) \(words[($0 * 3 + 1) % 8])") }
        let encoder = tokenizer.encoder(maxPositions: text.maxPositions)
        var pixels: [String: [Float]] = [:]
        for pair in pairs where pixels[pair.image] == nil { pixels[pair.image] = image(pixels.count) }
        var options = CLIPTrainingOptions()
        options.batchSize = batchSize
        options.maxSteps = maxSteps
        options.finalVisionPositionNoise = finalPositionNoise
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

    /// An epoch shows each image once with one of its captions, never two captions of one image in
    /// a batch, and a contrast group whole in one batch; the captions drawn vary between epochs.
    func testBatchesTakeEachImageOnceAndKeepGroupsTogether() throws {
        var pairs: [CLIPPair] = []
        for image in 0..<12 {
            for caption in 0..<3 { pairs.append(CLIPPair(image: "img\(image).png", caption: "a red circle \(caption)", group: image / 3)) }
        }
        let (trainer, out) = try Self.setUp(seed: 1, pairs: pairs, batchSize: 6)
        defer { try? FileManager.default.removeItem(at: out) }
        XCTAssertEqual(trainer.stepsPerEpoch, 2)
        var drawn: [[Int]] = []
        for epoch in 0..<3 {
            let batches = (0..<2).map { trainer.batch(atStep: epoch * 2 + $0) }
            let all = batches.flatMap { $0 }
            drawn.append(all.sorted())
            XCTAssertEqual(Set(all.map { pairs[$0].image }).count, 12, "epoch \(epoch): every image once")
            for batch in batches {
                XCTAssertEqual(Set(batch.map { pairs[$0].group! }).count, 2, "epoch \(epoch): two whole groups per batch")
            }
        }
        XCTAssertNotEqual(drawn[0], drawn[1], "captions are drawn afresh each epoch")
        XCTAssertEqual(trainer.batch(atStep: 3), trainer.batch(atStep: 3), "batches are a pure function of the step")

        let one = (0..<3).map { CLIPPair(image: "same.png", caption: "caption \($0)") }
        XCTAssertThrowsError(try Self.setUp(seed: 1, pairs: one, batchSize: 2)) { error in
            XCTAssertTrue("\(error)".contains("2 distinct images"), "\(error)")
        }
    }

    /// `group_id` on a COCO image entry becomes the pairs' group; a non-integer one is refused by name.
    func testCOCOGroupIDsAreRead() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("coco-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        func write(_ group: String) throws {
            try Data("""
            {"images": [{"id": 1, "file_name": "1.png", "group_id": \(group)}, {"id": 2, "file_name": "2.png"}],
             "annotations": [{"image_id": 1, "caption": "a red circle"}, {"image_id": 2, "caption": "a blue square"}]}
            """.utf8).write(to: url)
        }
        try write("7")
        let pairs = try CLIPPairLoading.pairs(contentsOf: url)
        XCTAssertEqual(pairs.map(\.group), [7, nil])
        try write("\"seven\"")
        XCTAssertThrowsError(try CLIPPairLoading.pairs(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".contains("images[0].group_id"), "\(error)")
        }
    }

    /// Pairs of several files: each image under its file's folder, and each file's groups
    /// renumbered after the groups before them (negative ids too), ungrouped images left alone.
    func testPairsOfSeveralFilesKeepTheirFoldersAndGroupsApart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coco-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ groups: [String]) throws -> URL {
            let images = groups.enumerated().map { i, g in #"{"id": \#(i + 1), "file_name": "\#(i + 1).png"\#(g)}"# }
            let captions = groups.indices.map { #"{"image_id": \#($0 + 1), "caption": "c\#($0)"}"# }
            let url = dir.appendingPathComponent(name)
            try Data(#"{"images": [\#(images.joined(separator: ","))], "annotations": [\#(captions.joined(separator: ","))]}"#.utf8).write(to: url)
            return url
        }
        let a = try write("a.json", [#", "group_id": 7"#, #", "group_id": 8"#, ""])
        let b = try write("b.json", [#", "group_id": -2"#, #", "group_id": 0"#])
        let c = try write("c.json", [#", "group_id": 7"#])
        let pairs = try CLIPPairLoading.pairs(of: [(a, URL(fileURLWithPath: "/data/plain")), (b, URL(fileURLWithPath: "/data/varied")),
                                                   (c, URL(fileURLWithPath: "/data/wide"))])
        XCTAssertEqual(pairs.map(\.image), ["/data/plain/1.png", "/data/plain/2.png", "/data/plain/3.png",
                                            "/data/varied/1.png", "/data/varied/2.png", "/data/wide/1.png"])
        XCTAssertEqual(pairs.map(\.group), [7, 8, nil, 9, 11, 12])
    }

    /// `visionPositionStd` changes the image tower's position embedding alone: its spread follows
    /// the given deviation, and every other tensor is the default initialisation of the same seed.
    func testVisionPositionStdSetsOnlyThePositionEmbedding() throws {
        let text = CLIPTextConfiguration(vocabularySize: 40, hiddenSize: 16, layerCount: 1, headCount: 2, maxPositions: 8,
                                         bosTokenID: 0, eosTokenID: 1, padTokenID: 1)
        let plain = try CLIPTrainingModel.random(vision: Self.vision, text: text, projectionDim: 16, seed: 3)
        let wide = try CLIPTrainingModel.random(vision: Self.vision, text: text, projectionDim: 16, seed: 3, visionPositionStd: 0.5)
        func values(_ model: CLIPTrainingModel) -> [String: [Float]] {
            Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value.toFloatArray()) })
        }
        let (a, b) = (values(plain), values(wide))
        let key = "vision_model.embeddings.position_embedding.weight"
        func rms(_ v: [Float]) -> Float { (v.reduce(0) { $0 + $1 * $1 } / Float(v.count)).squareRoot() }
        XCTAssertEqual(rms(a[key]!), 0.02, accuracy: 0.006)
        XCTAssertEqual(rms(b[key]!), 0.5, accuracy: 0.15)
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
        for name in a.keys where name != key { XCTAssertEqual(a[name], b[name], name) }
    }

    /// `finalVisionPositionNoise` changes only the written model's image position embedding, by
    /// noise of the given deviation, the same for the same seed; the training itself is unchanged.
    func testFinalPositionNoiseChangesOnlyTheWrittenPositionEmbedding() throws {
        func written(_ noise: Float?) throws -> [String: [Float]] {
            let (trainer, out) = try Self.setUp(seed: 5, maxSteps: 3, finalPositionNoise: noise)
            defer { try? FileManager.default.removeItem(at: out) }
            _ = try trainer.run(progress: false)
            let file = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
            return Dictionary(uniqueKeysWithValues: try file.tensorNames.map { ($0, try file.tensor($0).toFloatArray()) })
        }
        let (plain, noised, again) = (try written(nil), try written(0.5), try written(0.5))
        let key = "vision_model.embeddings.position_embedding.weight"
        XCTAssertEqual(noised, again)
        XCTAssertEqual(plain.keys.sorted(), noised.keys.sorted())
        for name in plain.keys where name != key { XCTAssertEqual(plain[name], noised[name], name) }
        let d = zip(noised[key]!, plain[key]!).map { $0 - $1 }
        XCTAssertEqual(d.count, 5 * 16)
        XCTAssertEqual((d.reduce(0) { $0 + $1 * $1 } / Float(d.count)).squareRoot(), 0.5, accuracy: 0.1)
    }
}
