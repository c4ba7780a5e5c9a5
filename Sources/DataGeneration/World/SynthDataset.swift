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
/// <out>/annotations_<split>.json   COCO instances + 5 captions per image (+ group_id per image
///                                  when contrast variants are written)
/// <out>/captions_shapes_<split>.json  the same images with only their colourless caption: a
///                                  CLIP trained on these first learns shapes, which it never
///                                  picks up when colour is there to match on
/// <out>/scenes_<split>.json        full ground truth (Scene per image id)
/// <out>/eval_<split>.jsonl         evaluation questions (val and test)
/// <out>/relations_<split>.jsonl    every clear relation of those splits' scenes asked true and
///                                  false (yes/no balanced)
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
    /// Minimal edits written after each scene of the contrast splits (`group_id` ties them to it):
    /// CLIP batches them together, so telling them apart needs shape, colour, position and count.
    public var contrastVariants = 0
    public var contrastSplits: Set<String> = ["train"]
    /// How images are drawn; nil: the plain renderer with the world's outline width.
    public var renderStyle: RenderStyle?

    public init(output: URL, seed: UInt64, configuration: WorldConfiguration = WorldConfiguration()) throws {
        self.output = output
        self.seed = seed
        self.world = try WorldGenerator(configuration: configuration)
    }

    /// Scene, captions and eval questions of image `index` (0-based) of a split: pure functions of the seed.
    public func scene(_ split: SplitSpec, index: Int) -> Scene {
        world.scene(seed: deriveSeed(seed, split.streamIndex, UInt64(index), 0))
    }

    /// Writes every split; returns how many images were written (variants included).
    @discardableResult
    public func write(_ splits: [SplitSpec], progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Int {
        var written = 0
        for split in splits {
            guard split.count >= 0 else {
                throw DataGenerationError.invalidSetting(name: "\(split.name) count", value: "\(split.count)", expected: ">= 0")
            }
            written += try writeSplit(split, progress: progress)
        }
        return written
    }

    private func writeSplit(_ split: SplitSpec, progress: (String, Int, Int) -> Void) throws -> Int {
        let folder = output.appendingPathComponent("images").appendingPathComponent(split.name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let size = world.configuration.imageSize
        let variants = contrastSplits.contains(split.name) ? contrastVariants : 0
        let style = renderStyle ?? RenderStyle(outlineWidth: world.configuration.outlineWidth)
        try style.validate()
        var coco = COCODataset(info: .init(split: split.name, seed: seed, imageSize: size))
        // The colourless caption of each image, for a CLIP curriculum (shapes first).
        var shapes = COCODataset(info: coco.info)
        var scenes: [String: Scene] = [:]
        var questions: [EvalQuestion] = []
        var relations: [EvalQuestion] = []
        for index in 0..<split.count {
            let scene = self.scene(split, index: index)
            let group = coco.images.count + 1
            // The scene, then its contrast variants (each a separate image with its own captions).
            var members = [(scene, deriveSeed(seed, split.streamIndex, UInt64(index), 1))]
            for v in 0..<variants {
                let base = 16 + 2 * UInt64(v)
                if let edited = world.variant(of: scene, seed: deriveSeed(seed, split.streamIndex, UInt64(index), base)),
                   !members.contains(where: { $0.0 == edited }) {
                    members.append((edited, deriveSeed(seed, split.streamIndex, UInt64(index), base + 1)))
                }
            }
            for (member, captionSeed) in members {
                let id = coco.images.count + 1
                let fileName = "\(id).png"
                try ImageEncoder.writePNG(SceneRenderer.render(member, style: style), to: folder.appendingPathComponent(fileName))
                coco.images.append(.init(id: id, fileName: fileName, width: size, height: size, groupID: variants > 0 ? group : nil))
                for object in member.objects {
                    let b = object.box
                    coco.annotations.append(.init(id: coco.annotations.count + 1, imageID: id, categoryID: object.kind.categoryID,
                                                  bbox: [b.x1, b.y1, b.width, b.height].map(round2), area: round2(b.width * b.height)))
                }
                for (style, caption) in CaptionWriter.styledCaptions(for: member, seed: captionSeed) {
                    coco.captions.append(.init(imageID: id, id: coco.captions.count + 1, caption: caption))
                    if style == .shapes { shapes.captions.append(.init(imageID: id, id: shapes.captions.count + 1, caption: caption)) }
                }
                scenes[String(id)] = member
                if evalSplits.contains(split.name) {
                    questions += EvalQuestions.questions(for: member, image: "\(split.name)/\(fileName)", firstID: questions.count,
                                                         seed: deriveSeed(seed, split.streamIndex, UInt64(id - 1), 2))
                    relations += EvalQuestions.relationQuestions(for: member, image: "\(split.name)/\(fileName)", firstID: relations.count,
                                                                 seed: deriveSeed(seed, split.streamIndex, UInt64(id - 1), 3))
                }
            }
            progress(split.name, index + 1, split.count)
        }
        try coco.write(to: output.appendingPathComponent("annotations_\(split.name).json"))
        shapes.images = coco.images
        try shapes.write(to: output.appendingPathComponent("captions_shapes_\(split.name).json"))
        try writeJSON(scenes, to: output.appendingPathComponent("scenes_\(split.name).json"))
        if evalSplits.contains(split.name) {
            try EvalQuestions.writeJSONL(questions, to: output.appendingPathComponent("eval_\(split.name).jsonl"))
            try EvalQuestions.writeJSONL(relations, to: output.appendingPathComponent("relations_\(split.name).jsonl"))
        }
        return coco.images.count
    }
}

/// Two decimals: boxes in pixels need no more, and short numbers keep the JSON small.
func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
