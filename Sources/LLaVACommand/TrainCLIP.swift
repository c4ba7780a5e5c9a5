import ArgumentParser
import Distributed
import Foundation
import Tensor
import Training
import Vision

/// `llava train clip`: a tiny CLIP (ViT image tower + causal text tower, symmetric contrastive
/// loss with a learned temperature) trained from scratch on image–caption pairs, written as an
/// HF `CLIPModel` directory.
///
///     llava train clip --data captions.json --image-folder images --tokenizer tok --output-dir clip-tiny
struct TrainCLIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "Train a small CLIP from scratch on image–caption pairs (HF CLIPModel output).")

    @Option(parsing: .upToNextOption,
            help: ArgumentHelp("LLaVA JSON/JSONL (image + first gpt turn as caption) or COCO captions JSON (images + annotations).",
                               discussion: "Several files train on all their pairs, e.g. worlds drawn in different styles."))
    var data: [String]
    @Option(parsing: .upToNextOption,
            help: ArgumentHelp("Folder the image paths are relative to: one for every --data file, or one per file, in order. (default: .)",
                               valueName: "image-folder"))
    var imageFolder: [String] = []
    @Option(help: "Directory with the tokenizer.json (and tokenizer_config.json) for captions.") var tokenizer: String
    @Option(help: "Where checkpoints, metrics, loss.svg and the model go.") var outputDir: String
    @Option(help: ArgumentHelp("Start from this CLIPModel directory's weights (fresh optimizer and schedule) instead of a random model: "
                               + "a curriculum, e.g. shape-only captions first. Its config sets the architecture.", valueName: "dir"))
    var initFrom: String?
    @Option(help: "Image side in pixels (default: 64).") var imageSize: Int?
    @Option(help: "Patch side in pixels (default: 8).") var patchSize: Int?
    @Option(help: "Vision hidden size (default: 128).") var hidden: Int?
    @Option(help: "Vision layers (default: 4).") var layers: Int?
    @Option(help: "Attention heads, both towers (default: 4).") var heads: Int?
    @Option(help: "Text hidden size (default: 128).") var textHidden: Int?
    @Option(help: "Text layers (default: 4).") var textLayers: Int?
    @Option(help: "Caption length in tokens (max_position_embeddings), BOS and EOS included (default: 32).") var textMaxLength: Int?
    @Option(help: "Joint embedding size (default: 128).") var projectionDim: Int?
    @Option(help: ArgumentHelp("Standard deviation of the image tower's initial position embedding (default: HF's 0.02).",
                               discussion: "Larger values keep each patch's place a larger part of its layer-0 embedding.")) var visionPositionStd: Float?
    @Option(help: ArgumentHelp("Add seeded normal noise of this standard deviation to the image tower's position embedding of the written model, after training.",
                               discussion: "A large mark of each patch's place in its layer-0 embedding, added after the tower's training (a large --vision-position-std is trained with)."))
    var finalPositionNoise: Float?
    @Option(help: "Epochs over the images (each epoch shows every image once, with one of its captions).") var epochs = 10
    @Option(help: "Stop after this many optimizer steps.") var maxSteps: Int?
    @Option(help: "Pairs per batch (the contrastive negatives).") var batchSize = 64
    @Option(help: "Peak learning rate.") var learningRate: Float = 1e-3
    @Option(help: "Fraction of steps of linear warmup before cosine decay.") var warmupRatio: Float = 0.1
    @Option(help: "AdamW weight decay (never on biases, norms, logit_scale).") var weightDecay: Float = 0.1
    @Option(help: "Clip gradients to this global norm.") var maxGradNorm: Float = 1
    @Option(help: "Random seed (initialisation, batch order).") var seed: UInt64 = 42
    @Option(help: "Checkpoint every N steps.") var saveSteps = 500
    @Flag(help: "Continue from the latest checkpoint in --output-dir.") var resume = false
    @Flag(help: "No progress line.") var quiet = false
    @Flag(inversion: .prefixedNo, help: "Split each batch's pairs over the --threads, each shard single-threaded (off: every kernel threaded).")
    var threadShards = true
    @OptionGroup var runtime: RuntimeOptions

    /// A new model's architecture where its flag is not given.
    private enum Default {
        static let imageSize = 64, patchSize = 8, hidden = 128, layers = 4, heads = 4
        static let textHidden = 128, textLayers = 4, textMaxLength = 32, projectionDim = 128
    }

    /// Architecture flags, which a `--init-from` model's config replaces.
    private var architectureFlags: [(String, Int?)] {
        [("--image-size", imageSize), ("--patch-size", patchSize), ("--hidden", hidden), ("--layers", layers), ("--heads", heads),
         ("--text-hidden", textHidden), ("--text-layers", textLayers), ("--text-max-length", textMaxLength),
         ("--projection-dim", projectionDim)]
    }

    func validate() throws {
        guard !data.isEmpty else { throw ValidationError("--data needs at least one file") }
        guard imageFolder.count <= 1 || imageFolder.count == data.count else {
            throw ValidationError("--image-folder: give one folder for every --data file or one per file (\(data.count) --data files, "
                                  + "\(imageFolder.count) folders)")
        }
        if let std = finalPositionNoise, !(std > 0 && std.isFinite) {
            throw ValidationError("--final-position-noise must be a positive number, got \(std)")
        }
        if initFrom != nil {
            let given = architectureFlags.filter { $0.1 != nil }.map(\.0)
            guard given.isEmpty else {
                throw ValidationError("--init-from takes the architecture from its config.json; drop \(given.joined(separator: ", "))")
            }
            guard visionPositionStd == nil else { throw ValidationError("--vision-position-std sets a new model's initialisation; drop it with --init-from") }
            return
        }
        if let std = visionPositionStd, !(std > 0 && std.isFinite) {
            throw ValidationError("--vision-position-std must be a positive number, got \(std)")
        }
        let imageSize = imageSize ?? Default.imageSize, patchSize = patchSize ?? Default.patchSize
        let hidden = hidden ?? Default.hidden, heads = heads ?? Default.heads
        let textHidden = textHidden ?? Default.textHidden, textMaxLength = textMaxLength ?? Default.textMaxLength
        guard patchSize > 0, imageSize >= patchSize else {
            throw ValidationError("--image-size \(imageSize) must be at least --patch-size \(patchSize)")
        }
        guard hidden % heads == 0, textHidden % heads == 0 else {
            throw ValidationError("--heads \(heads) must divide --hidden \(hidden) and --text-hidden \(textHidden)")
        }
        guard textMaxLength >= 2 else { throw ValidationError("--text-max-length must be at least 2 (BOS/EOS), got \(textMaxLength)") }
    }

    /// A random model from the flags, or the `--init-from` model, which must share the tokenizer's ids.
    private func startingModel(_ tok: CLIPTokenizerSetup) throws -> CLIPTrainingModel {
        guard let initFrom else {
            let hidden = hidden ?? Default.hidden, heads = heads ?? Default.heads
            let vision = CLIPVisionConfiguration(hiddenSize: hidden, intermediateSize: 4 * hidden, layerCount: layers ?? Default.layers,
                                                 headCount: heads, imageSize: imageSize ?? Default.imageSize,
                                                 patchSize: patchSize ?? Default.patchSize)
            let text = CLIPTextConfiguration(vocabularySize: tok.vocabularySize, hiddenSize: textHidden ?? Default.textHidden,
                                             layerCount: textLayers ?? Default.textLayers, headCount: heads,
                                             maxPositions: textMaxLength ?? Default.textMaxLength, bosTokenID: tok.bosTokenID,
                                             eosTokenID: tok.eosTokenID, padTokenID: tok.padTokenID)
            return try CLIPTrainingModel.random(vision: vision, text: text, projectionDim: projectionDim ?? Default.projectionDim, seed: seed,
                                                visionPositionStd: visionPositionStd)
        }
        let model = try CLIPTrainingModel(directory: URL(fileURLWithPath: initFrom))
        let t = model.text.config
        let mismatches = [("vocab_size", t.vocabularySize, tok.vocabularySize), ("eos_token_id", t.eosTokenID, tok.eosTokenID),
                          ("pad_token_id", t.padTokenID, tok.padTokenID), ("bos_token_id", t.bosTokenID ?? -1, tok.bosTokenID ?? -1)]
            .filter { $0.1 != $0.2 }
        guard mismatches.isEmpty else {
            let list = mismatches.map { "text_config.\($0.0) \($0.1) vs \($0.2)" }.joined(separator: ", ")
            throw ValidationError("\(initFrom)/config.json does not match the tokenizer in \(tokenizer): \(list)")
        }
        return model
    }

    func run() throws {
        try runtime.apply()
        try ProcessGroup.world.runOrAbort(train)
    }

    /// The run; under `mpirun` on every rank, each running its share of every batch (rank 0 alone speaks and writes).
    private func train() throws {
        let group = ProcessGroup.world
        func say(_ s: String) { if group.isRoot { print(s) } }
        let out = URL(fileURLWithPath: outputDir)
        let tok = try CLIPTokenizerSetup(directory: URL(fileURLWithPath: tokenizer))
        let model = try startingModel(tok)
        model.shardsAcrossThreads = threadShards
        let folders = imageFolder.count == data.count ? imageFolder : Array(repeating: imageFolder.first ?? ".", count: data.count)
        let pairs = try CLIPPairLoading.pairs(of: zip(data, folders).map { (URL(fileURLWithPath: $0), URL(fileURLWithPath: $1)) })
        let encoder = tok.encoder(maxPositions: model.text.config.maxPositions)
        let images = try CLIPImageCache(files: pairs.map(\.image), processor: ImageProcessor(configuration: model.imageProcessorConfiguration))
        let trainer = try CLIPTrainer(model: model, pairs: pairs, captions: pairs.map { encoder.encode($0.caption) },
                                      images: images, options: options, outputDirectory: out, group: group)
        if resume, let step = try trainer.resumeIfPossible() {
            say("resumed at step \(step)/\(trainer.totalSteps)")
        }
        if group.size > 1 { say("\(group.size) ranks (MPI), each global batch of \(batchSize) split across them") }
        let summary = try trainer.run(progress: !quiet && group.isRoot, tokenizer: tok)
        let last = summary.losses.last.map { String(format: "%.4f", Double($0)) } ?? "-"
        say("trained \(summary.steps) steps on \(pairs.count) pairs (\(trainer.stepsPerEpoch) per epoch), last loss \(last), "
            + "\(String(format: "%.1f", summary.tokensPerSecond)) pairs/s; CLIPModel written to \(out.path)")
    }

    private var options: CLIPTrainingOptions {
        var o = CLIPTrainingOptions()
        o.epochs = epochs
        o.maxSteps = maxSteps
        o.batchSize = batchSize
        o.learningRate = learningRate
        o.warmupRatio = warmupRatio
        o.weightDecay = weightDecay
        o.maxGradNorm = maxGradNorm
        o.seed = seed
        o.saveSteps = saveSteps
        o.finalVisionPositionNoise = finalPositionNoise
        return o
    }
}
