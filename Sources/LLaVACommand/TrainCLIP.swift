import ArgumentParser
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

    @Option(help: "LLaVA JSON/JSONL (image + first gpt turn as caption) or COCO captions JSON (images + annotations).")
    var data: String
    @Option(help: "Folder the image paths are relative to.") var imageFolder: String = "."
    @Option(help: "Directory with the tokenizer.json (and tokenizer_config.json) for captions.") var tokenizer: String
    @Option(help: "Where checkpoints, metrics, loss.svg and the model go.") var outputDir: String
    @Option(help: "Image side in pixels.") var imageSize = 64
    @Option(help: "Patch side in pixels.") var patchSize = 8
    @Option(help: "Vision hidden size.") var hidden = 128
    @Option(help: "Vision layers.") var layers = 4
    @Option(help: "Attention heads (both towers).") var heads = 4
    @Option(help: "Text hidden size.") var textHidden = 128
    @Option(help: "Text layers.") var textLayers = 4
    @Option(help: "Caption length in tokens (max_position_embeddings), BOS and EOS included.") var textMaxLength = 32
    @Option(help: "Joint embedding size.") var projectionDim = 128
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
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard patchSize > 0, imageSize >= patchSize else {
            throw ValidationError("--image-size \(imageSize) must be at least --patch-size \(patchSize)")
        }
        guard hidden % heads == 0, textHidden % heads == 0 else {
            throw ValidationError("--heads \(heads) must divide --hidden \(hidden) and --text-hidden \(textHidden)")
        }
        guard textMaxLength >= 2 else { throw ValidationError("--text-max-length must be at least 2 (BOS/EOS), got \(textMaxLength)") }
    }

    func run() throws {
        try runtime.apply()
        let out = URL(fileURLWithPath: outputDir)
        let tok = try CLIPTokenizerSetup(directory: URL(fileURLWithPath: tokenizer))
        let vision = CLIPVisionConfiguration(hiddenSize: hidden, intermediateSize: 4 * hidden, layerCount: layers,
                                             headCount: heads, imageSize: imageSize, patchSize: patchSize)
        let text = CLIPTextConfiguration(vocabularySize: tok.vocabularySize, hiddenSize: textHidden, layerCount: textLayers,
                                         headCount: heads, maxPositions: textMaxLength, bosTokenID: tok.bosTokenID,
                                         eosTokenID: tok.eosTokenID, padTokenID: tok.padTokenID)
        let model = try CLIPTrainingModel.random(vision: vision, text: text, projectionDim: projectionDim, seed: seed)
        let pairs = try CLIPPairLoading.pairs(contentsOf: URL(fileURLWithPath: data))
        let encoder = tok.encoder(maxPositions: textMaxLength)
        let images = try CLIPImageCache(paths: pairs.map(\.image), folder: URL(fileURLWithPath: imageFolder),
                                        processor: ImageProcessor(configuration: model.imageProcessorConfiguration))
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
        let trainer = try CLIPTrainer(model: model, pairs: pairs, captions: pairs.map { encoder.encode($0.caption) },
                                      images: images, options: o, outputDirectory: out)
        if resume, let step = try trainer.resumeIfPossible() {
            print("resumed at step \(step)/\(trainer.totalSteps)")
        }
        let summary = try trainer.run(progress: !quiet, tokenizer: tok)
        let last = summary.losses.last.map { String(format: "%.4f", Double($0)) } ?? "-"
        print("trained \(summary.steps) steps on \(pairs.count) pairs (\(trainer.stepsPerEpoch) per epoch), last loss \(last), "
              + "\(String(format: "%.1f", summary.tokensPerSecond)) pairs/s; CLIPModel written to \(out.path)")
    }
}
