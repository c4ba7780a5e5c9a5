import Foundation
import Tensor

/// One split of the synthetic data set: name, image count and index (which seeds its images).
public struct SplitSpec: Sendable, Equatable {
    public var name: String
    public var count: Int
    /// Each split has its own seed stream, so changing one split's size leaves the others alone.
    public var streamIndex: UInt64
    public init(name: String, count: Int, streamIndex: UInt64) { self.name = name; self.count = count; self.streamIndex = streamIndex }

    public static func standard(train: Int, val: Int, test: Int) -> [SplitSpec] {
        [SplitSpec(name: "train", count: train, streamIndex: 0), SplitSpec(name: "val", count: val, streamIndex: 1),
         SplitSpec(name: "test", count: test, streamIndex: 2)]
    }
}

/// Writes the synthetic data set:
///
/// ```
/// <out>/images/<split>/<id>.png
/// <out>/annotations_<split>.json   COCO instances + 5 captions per image
/// <out>/scenes_<split>.json        full ground truth (Scene per image id)
/// <out>/eval_<split>.jsonl         evaluation questions (val and test)
/// ```
///
/// ```swift
/// let writer = try SynthDatasetWriter(output: URL(fileURLWithPath: "synth"), seed: 0)
/// try writer.write(SplitSpec.standard(train: 1000, val: 100, test: 100)) { split, done, total in }
/// ```
public struct SynthDatasetWriter {
    public var output: URL
    public var seed: UInt64
    public var world: WorldGenerator
    /// Splits that also get `eval_<split>.jsonl`.
    public var evalSplits: Set<String> = ["val", "test"]

    public init(output: URL, seed: UInt64, configuration: WorldConfiguration = WorldConfiguration()) throws {
        self.output = output
        self.seed = seed
        self.world = try WorldGenerator(configuration: configuration)
    }

    /// Scene, captions and eval questions of image `index` (0-based) of a split: pure functions of the seed.
    public func scene(_ split: SplitSpec, index: Int) -> Scene {
        world.scene(seed: deriveSeed(seed, split.streamIndex, UInt64(index), 0))
    }

    public func write(_ splits: [SplitSpec], progress: (String, Int, Int) -> Void = { _, _, _ in }) throws {
        for split in splits {
            guard split.count >= 0 else {
                throw DataGenerationError.invalidSetting(name: "\(split.name) count", value: "\(split.count)", expected: ">= 0")
            }
            try writeSplit(split, progress: progress)
        }
    }

    private func writeSplit(_ split: SplitSpec, progress: (String, Int, Int) -> Void) throws {
        let folder = output.appendingPathComponent("images").appendingPathComponent(split.name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let size = world.configuration.imageSize
        var coco = COCODataset(info: .init(split: split.name, seed: seed, imageSize: size))
        var scenes: [String: Scene] = [:]
        var questions: [EvalQuestion] = []
        for index in 0..<split.count {
            let id = index + 1
            let scene = self.scene(split, index: index)
            let fileName = "\(id).png"
            try ImageEncoder.writePNG(SceneRenderer.render(scene), to: folder.appendingPathComponent(fileName))
            coco.images.append(.init(id: id, fileName: fileName, width: size, height: size))
            for object in scene.objects {
                let b = object.box
                coco.annotations.append(.init(id: coco.annotations.count + 1, imageID: id, categoryID: object.kind.categoryID,
                                              bbox: [b.x1, b.y1, b.width, b.height].map(round2), area: round2(b.width * b.height)))
            }
            for caption in CaptionWriter.captions(for: scene, seed: deriveSeed(seed, split.streamIndex, UInt64(index), 1)) {
                coco.captions.append(.init(imageID: id, id: coco.captions.count + 1, caption: caption))
            }
            scenes[String(id)] = scene
            if evalSplits.contains(split.name) {
                questions += EvalQuestions.questions(for: scene, image: "\(split.name)/\(fileName)", firstID: questions.count,
                                                     seed: deriveSeed(seed, split.streamIndex, UInt64(index), 2))
            }
            progress(split.name, index + 1, split.count)
        }
        try coco.write(to: output.appendingPathComponent("annotations_\(split.name).json"))
        try writeJSON(scenes, to: output.appendingPathComponent("scenes_\(split.name).json"))
        if evalSplits.contains(split.name) {
            try EvalQuestions.writeJSONL(questions, to: output.appendingPathComponent("eval_\(split.name).jsonl"))
        }
    }
}

/// Two decimals: boxes in pixels need no more, and short numbers keep the JSON small.
func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
