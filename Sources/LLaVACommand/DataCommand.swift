import ArgumentParser
import DataGeneration
import Foundation

/// `llava data`: the synthetic world and LLaVA's instruction-data pipeline.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "The synthetic shapes data set, and LLaVA instruction data from annotations with a teacher.",
        subcommands: [Synth.self, Instruct.self, VQA.self, DataGenerate.self, DataMerge.self, DataPrompts.self])

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render synthetic scenes with COCO-style annotations, 5 captions per image and eval questions.")

        @Option(help: "Output folder (images/<split>/<id>.png, annotations_<split>.json, eval_<split>.jsonl, relations_<split>.jsonl).")
        var out: String
        @Option(help: "Training images.") var train = 1000
        @Option(help: "Validation images.") var val = 100
        @Option(help: "Test images.") var test = 100
        @Option(help: "Image side in pixels (64...128).") var size = 96
        @Option(help: "Random seed; the same seed gives the same files.") var seed: UInt64 = 0
        @Option(help: "Contrast variants per training scene: minimal edits (one object's shape, colour or region changed, or one object added or removed) written as their own images, tied by group_id.")
        var contrastVariants = 0
        @Option(help: "Multiplies every object's size (0.5...2).") var objectScale = 1.0
        @Option(help: "Draw a dark outline inside each object's edge, the fill's radius this many pixels smaller (0...3; 0: none).") var outlineWidth = 0.0
        @Option(help: "Object placement: 'free' (anywhere) or 'grid' (one object per non-corner cell of a 4x4 grid, jittered).")
        var layout = "free"
        @Option(help: "How scenes are drawn: 'plain' (as always), 'varied' (anti-aliasing, outline width, background texture and gradient, size and proportions drawn per image, for training), 'unseen' (every setting outside 'varied''s ranges, for a test set) or 'wide' (beyond 'unseen' on every setting but anti-aliasing, for training around it). The same seed gives the same scenes and questions in every style.")
        var renderStyle = "plain"
        @Option(help: "Override the style: supersamples per axis to pick from per object, e.g. '1,4' (1: no anti-aliasing).") var antiAlias: String?
        @Option(help: "Override the style: outline width range LO:HI in pixels, drawn per object.") var outlineWidthRange: String?
        @Option(help: "Override the style: background texture strength range LO:HI (1: the plain texture).") var backgroundTexture: String?
        @Option(help: "Override the style: background gradient range LO:HI in grey levels across the image.") var backgroundGradient: String?
        @Option(help: "Override the style: object size jitter J (uniform in ±J; negative: |J| up or down, 0.83|J|...|J|).") var sizeJitter: Double?
        @Option(help: "Override the style: width/height proportion jitter J (as --size-jitter).") var aspectJitter: Double?
        @Flag(help: "No progress line.") var quiet = false
        @OptionGroup var runtime: RuntimeOptions

        /// The preset with the explicit overrides applied.
        func style() throws -> RenderStyle {
            guard RenderStyle.presetNames.contains(renderStyle) else {
                throw ValidationError("--render-style must be one of \(RenderStyle.presetNames.joined(separator: ", ")), got '\(renderStyle)'")
            }
            var s = try RenderStyle.preset(renderStyle, outlineWidth: outlineWidth)
            func range(_ text: String?, _ flag: String) throws -> ClosedRange<Double>? {
                guard let text else { return nil }
                let parts = text.split(separator: ":").compactMap { Double($0) }
                guard parts.count == 2, parts[0] <= parts[1] else { throw ValidationError("\(flag) must be LO:HI with LO <= HI, got '\(text)'") }
                return parts[0]...parts[1]
            }
            if let a = antiAlias {
                let samples = a.split(separator: ",").compactMap { Int($0) }
                guard !samples.isEmpty, samples.count == a.split(separator: ",").count else { throw ValidationError("--anti-alias must be a list like '1,4', got '\(a)'") }
                s.antiAliasSamples = samples
            }
            if let r = try range(outlineWidthRange, "--outline-width-range") { s.outlineWidth = r }
            if let r = try range(backgroundTexture, "--background-texture") { s.texture = r }
            if let r = try range(backgroundGradient, "--background-gradient") { s.gradient = r }
            if let j = sizeJitter { s.sizeJitter = j }
            if let j = aspectJitter { s.aspectJitter = j }
            do { try s.validate() } catch { throw ValidationError("\(error)") }
            return s
        }

        func validate() throws {
            _ = try style()
            for (name, n) in [("--train", train), ("--val", val), ("--test", test)] where n < 0 {
                throw ValidationError("\(name) must be >= 0, got \(n)")
            }
            guard (64...128).contains(size) else { throw ValidationError("--size must be in 64...128, got \(size)") }
            guard SceneLayout(rawValue: layout) != nil else { throw ValidationError("--layout must be 'free' or 'grid', got '\(layout)'") }
            guard (0...8).contains(contrastVariants) else { throw ValidationError("--contrast-variants must be in 0...8, got \(contrastVariants)") }
        }

        func run() throws {
            try runtime.apply()
            var configuration = WorldConfiguration(imageSize: size)
            configuration.objectScale = objectScale
            configuration.outlineWidth = outlineWidth
            configuration.layout = SceneLayout(rawValue: layout)!
            var writer = try SynthDatasetWriter(output: URL(fileURLWithPath: out), seed: seed,
                                                configuration: configuration)
            writer.contrastVariants = contrastVariants
            writer.renderStyle = try style()
            let meter = ProgressMeter(quiet: quiet)
            let written = try writer.write(SplitSpec.standard(train: train, val: val, test: test)) { split, done, total in
                meter.update("\(split) scene", done, total)
            }
            meter.finish()
            printErr("wrote \(written) images and annotations to \(out)")
        }
    }

    struct Instruct: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn annotations into LLaVA instruction data (conversation, detail, complex) with the symbolic teacher.")

        @Option(help: "annotations_<split>.json written by `llava data synth`.") var annotations: String
        @Option(help: "LLaVA JSON for stage 2 (instruction tuning).") var out: String
        @Option(help: "LLaVA JSON of image-caption pairs for stage 1 (feature alignment).") var stage1Out: String?
        @Option(help: "Random seed of the teacher and the kind mix.") var seed: UInt64 = 0
        @Option(help: "Instruction records (default: one per image).") var count: Int?
        @Flag(help: "No progress line.") var quiet = false
        @OptionGroup var runtime: RuntimeOptions

        func validate() throws {
            if let count, count < 0 { throw ValidationError("--count must be >= 0, got \(count)") }
        }

        func run() throws {
            try runtime.apply()
            let coco = try COCODataset.read(from: URL(fileURLWithPath: annotations))
            let builder = InstructionDataBuilder(teacher: SymbolicTeacher(seed: seed), seed: seed)
            let meter = ProgressMeter(quiet: quiet)
            let (records, stats) = try builder.instructions(from: coco, count: count) { done, total in
                meter.update("record", done, total)
            }
            meter.finish()
            try LLaVARecord.write(records, to: URL(fileURLWithPath: out))
            let mix = InstructionKind.allCases.map { "\($0.rawValue) \(stats.records[$0] ?? 0)" }.joined(separator: ", ")
            printErr("wrote \(records.count) records to \(out) (\(mix); dropped \(stats.droppedReplies) replies, \(stats.malformedBlocks) malformed blocks)")
            if let stage1Out {
                let pairs = builder.captionRecords(from: coco)
                try LLaVARecord.write(pairs, to: URL(fileURLWithPath: stage1Out))
                printErr("wrote \(pairs.count) caption pairs to \(stage1Out)")
            }
        }
    }

    struct VQA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vqa",
            abstract: "Short-answer questions from the scene graphs, as LLaVA-1.5's VQA data (\"Answer the question using a single word or phrase.\").")

        @Option(help: "scenes_<split>.json written by `llava data synth`.") var scenes: String
        @Option(help: "LLaVA JSON to write (one multi-turn record per image).") var out: String
        @Option(help: "Image path prefix (default: the split of scenes_<split>.json and a slash).") var imagePrefix: String?
        @Option(help: "Questions per image (0: none of its own, only --include's records, e.g. to put descriptions into them).") var questionsPerImage = 8
        @Option(help: "Random seed of the questions and their order.") var seed: UInt64 = 0
        @Option(help: ArgumentHelp("How short answers are worded: 'word' (\"red\", as LLaVA-1.5) or 'object-first' (colour and shape answers led by the object asked about: \"star red\", \"red star\") or 'object-first-position' (and position answers led by the shape: \"star center\") or 'object-first-relation' (and relation answers after both objects' quarter of the image on the asked axis: \"star 1 circle 3 yes\").", valueName: "style"))
        var shortAnswerStyle: ShortAnswerStyle = .word
        @Flag(help: "Follow a question about one object (\"How many stars are there?\" with one star, \"What shape is the blue object?\" with one blue object) with the follow-up `llava eval synth --task follow-up` asks (\"And what color is it?\", \"And where is it?\").")
        var followUps = false
        @Flag(help: "With --follow-ups, ask each follow-up and the question before it as written and answer them in a sentence (\"There is 1 star.\" \"The star is red.\"), as in `llava chat`.")
        var freeFormFollowUps = false
        @Flag(help: "Also write one record per image asking for a detailed description, answered by a walk over the image's 4×4 grid of cells in reading order, each cell as its row and column digits and what it holds (\"… Cells by row and column: 12 no, 13 a small red star at the top, 21 no, …\"), each object named once in its cell.")
        var descriptions = false
        @Flag(help: "Also ask for the detailed description inside each image's short-answer conversation, after 1 to all of its questions (drawn per image), as a user of `llava chat` would ask for one after other questions; likewise inside each --include conversation of two or more questions about one of --scenes' images (the instruction data's free-form conversations).")
        var descriptionsInConversation = false
        @Flag(help: "Also write one record per object alone of its kind whose shape another colour shares in its image, asking only where it is (\"Where is the red star in the image?\" with a blue star beside it): the questions a model that finds objects by shape alone gets half wrong.")
        var sharedShapePositions = false
        @Option(help: "LLaVA JSON whose records go first in --out (repeatable), to write one stage-2 mix.") var include: [String] = []
        @Option(help: ArgumentHelp("Also write the questions as text, one document per line, the image replaced by the scene in words (for `llava train lm`).", valueName: "file.txt"))
        var textOut: String?
        @Flag(help: "In --text-out, leave the regions out of the scene in words and drop the position and relation questions, so a language model pretrained on the text has never been told where anything is.")
        var textWithoutPlace = false
        @OptionGroup var runtime: RuntimeOptions

        func validate() throws {
            guard questionsPerImage >= 0 else { throw ValidationError("--questions-per-image must be 0 or more, got \(questionsPerImage)") }
            guard !textWithoutPlace || textOut != nil else { throw ValidationError("--text-without-place needs --text-out") }
            guard !freeFormFollowUps || followUps else { throw ValidationError("--free-form-follow-ups needs --follow-ups") }
        }

        func run() throws {
            try runtime.apply()
            let url = URL(fileURLWithPath: scenes)
            let name = url.deletingPathExtension().lastPathComponent
            guard let prefix = imagePrefix ?? (name.hasPrefix("scenes_") ? String(name.dropFirst(7)) + "/" : nil) else {
                throw ValidationError("\(scenes) is not named scenes_<split>.json: pass --image-prefix")
            }
            let sceneTable = try ShortAnswerVQA.readScenes(from: url)
            let sets = ShortAnswerVQA.questionSets(scenes: sceneTable, questionsPerImage: questionsPerImage, seed: seed,
                                                   followUps: followUps)
            var records = sets.enumerated().map { index, set in
                let record = ShortAnswerVQA.record(set, imagePrefix: prefix, style: shortAnswerStyle, freeFormFollowUps: freeFormFollowUps)
                return descriptionsInConversation
                    ? GridDescription.insertingDescription(into: record, scene: sceneTable[set.id]!, index: index, seed: seed) : record
            }
            let described = descriptions ? GridDescription.records(scenes: sceneTable, imagePrefix: prefix, seed: seed) : []
            records += described
            let shared = sharedShapePositions
                ? ShortAnswerVQA.sharedShapePositionRecords(scenes: sceneTable, imagePrefix: prefix, style: shortAnswerStyle) : []
            records += shared
            var included = try include.flatMap { try LLaVARecord.read(from: URL(fileURLWithPath: $0)) }
            var describedIncluded = 0
            if descriptionsInConversation {
                included = included.enumerated().map { index, record in
                    guard record.conversations.count >= 4, let image = record.image, image.hasPrefix(prefix), image.hasSuffix(".png"),
                          let scene = sceneTable[String(image.dropFirst(prefix.count).dropLast(4))],
                          !record.conversations.contains(where: { $0.from == "gpt" && $0.value.contains(GridDescription.walkMarker) })
                    else { return record }
                    describedIncluded += 1
                    return GridDescription.insertingDescription(into: record, scene: scene, index: sets.count + index, seed: seed)
                }
            }
            try LLaVARecord.write(included + records, to: URL(fileURLWithPath: out))
            let inConversation = descriptionsInConversation ? sets.count : 0
            let questions = records.reduce(0) { $0 + $1.conversations.count / 2 } - described.count - inConversation - shared.count
            printErr("wrote \(included.count) included, \(records.count - described.count - shared.count) VQA records (\(questions) questions"
                     + (descriptionsInConversation && !sets.isEmpty ? ", each with a description request among them" : "") + ")"
                     + (descriptions ? " and \(described.count) description records" : "")
                     + (sharedShapePositions ? " and \(shared.count) shared-shape position records" : "") + " to \(out)"
                     + (descriptionsInConversation ? "; a description request put into \(describedIncluded) included conversations" : ""))
            if let textOut {
                let lines = ShortAnswerVQA.textDocuments(sets, scenes: sceneTable, imagePrefix: prefix,
                                                         style: shortAnswerStyle, place: !textWithoutPlace)
                do {
                    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: textOut), options: .atomic)
                } catch {
                    throw ValidationError("\(textOut): cannot write: \(error.localizedDescription)")
                }
                printErr("wrote \(lines.count) text documents to \(textOut)")
            }
        }
    }
}

/// A one-line progress report on stderr (rate and ETA), redrawn at most 10 times a second.
final class ProgressMeter {
    let quiet: Bool
    let clock = ContinuousClock()
    var start: ContinuousClock.Instant
    var lastDraw: ContinuousClock.Instant
    var drawn = false
    var label = ""

    init(quiet: Bool) {
        self.quiet = quiet
        start = clock.now
        lastDraw = start
    }

    /// `extra` is appended to the line (e.g. tokens spent).
    func update(_ what: String, _ done: Int, _ total: Int, extra: String = "") {
        guard !quiet else { return }
        let now = clock.now
        if what != label {
            // A new phase (e.g. the next split) restarts the rate and ETA.
            if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
            label = what
            start = now
        }
        guard done == total || now - lastDraw > .milliseconds(100) else { return }
        lastDraw = now
        let elapsed = Double((now - start).components.seconds) + Double((now - start).components.attoseconds) * 1e-18
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = Double(total - done) / max(rate, 1e-9)
        let tail = extra.isEmpty ? "" : "| \(extra) "
        FileHandle.standardError.write(Data(("\r\(what) \(done)/\(total) | " + String(format: "%.1f/s | ETA %.0fs ", rate, eta) + tail + "  ").utf8))
        drawn = true
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

extension ShortAnswerStyle: ExpressibleByArgument {}
