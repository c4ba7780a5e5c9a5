import ArgumentParser
import Distributed
import Foundation
import LLaVA
import Language
import Logging
import Training
import Vision

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "LLaVA's two-stage visual instruction tuning.",
        subcommands: [Pretrain.self, Finetune.self, CacheFeatures.self, TrainLM.self, TrainCLIP.self])
}

/// Where the model and data come from (every train subcommand).
struct TrainInputs: ParsableArguments {
    @Option(help: "A bare LLM directory (with --vision-tower), or a LLaVA checkpoint to continue from.")
    var modelNameOrPath: String

    @Option(help: "The CLIP tower directory (openai/clip-vit-large-patch14-336 layout).")
    var visionTower: String?

    @Option(help: "LLaVA JSON (or JSONL) training data.")
    var data: String

    @Option(help: "Folder the records' image paths are relative to.")
    var imageFolder: String = "."

    @Option(help: "Projector for a new model: linear, mlp2x_gelu, mlp{N}x_gelu.")
    var mmProjectorType = "mlp2x_gelu"

    @Option(help: ArgumentHelp("How a new projector starts: default (nn.Linear's uniform) or whiten (the same, reading whitened vision features).",
                               discussion: "whiten measures the mean and covariance of the features of up to 1,000 training images and folds the whitening into the first layer; it helps when a few feature directions dominate, as with a small CLIP trained from scratch."))
    var mmProjectorInit = "default"

    // .unconditional: the value is usually negative (-2, -1), which must not read as a flag.
    @Option(parsing: .unconditional, help: "Vision layer whose hidden states feed the projector (negative: from the end).")
    var mmVisionSelectLayer = -2

    @Option(help: "patch (drop CLS) or cls_patch.")
    var mmVisionSelectFeature = "patch"

    @Option(help: "Image features computed ahead by `llava train cache-features`.")
    var featureCache: String?

    func source(padToSquare: Bool, seed: UInt64, projectorFile: String?) throws -> ModelSource {
        var s = ModelSource(modelPath: URL(fileURLWithPath: modelNameOrPath), visionTower: visionTower.map { URL(fileURLWithPath: $0) },
                            projectorFile: projectorFile.map { URL(fileURLWithPath: $0) })
        guard let kind = ProjectorKind(name: mmProjectorType) else {
            throw ValidationError("--mm-projector-type '\(mmProjectorType)' is not linear, identity or mlp{N}x_gelu")
        }
        s.projectorKind = kind
        s.visionFeatureLayer = mmVisionSelectLayer
        switch mmVisionSelectFeature {
        case "patch": s.featureSelection = .default
        case "cls_patch": s.featureSelection = .full
        default: throw ValidationError("--mm-vision-select-feature must be patch or cls_patch")
        }
        s.padsImagesToSquare = padToSquare
        s.seed = seed
        return s
    }
}

/// Hyper-parameters; unset ones take the stage's reference defaults.
struct TrainHyperparameters: ParsableArguments {
    @Option(help: "Where checkpoints, metrics and the result go.") var outputDir: String
    @Option(help: "Epochs over the data.") var epochs: Int?
    @Option(help: "Stop after this many optimizer steps.") var maxSteps: Int?
    @Option(help: "Sequences per micro-batch (under mpirun: the global micro-batch, split across the ranks).") var batchSize: Int?
    @Option(help: "Micro-batches per optimizer step.") var gradientAccumulation: Int?
    @Option(help: "Peak learning rate.") var learningRate: Float?
    @Option(help: "AdamW weight decay (never on biases and norms).") var weightDecay: Float?
    @Option(help: "Fraction of steps of linear warmup before cosine decay.") var warmupRatio: Float?
    @Option(help: "Clip gradients to this global norm.") var maxGradNorm: Float?
    @Option(help: "Truncate sequences to this many tokens.") var modelMaxLength: Int?
    @Option(help: "Batches hold only image or only text samples (true/false).") var groupByModalityLength: Bool?
    @Option(help: "Sort samples by length within groups of this many batches (then shuffle the batches), so batches pad less; 1: no sorting.")
    var lengthGrouping: Int?
    @Option(help: "pad (to a square with the mean colour) or square (resize + crop).") var imageAspectRatio: String?
    @Option(help: "Random seed (data order, initialisation, dropout).") var seed: UInt64 = 42
    @Option(help: "Checkpoint every N steps.") var saveSteps: Int?
    @Option(help: "Checkpoints kept.") var saveTotalLimit: Int?
    @Flag(help: "Continue from the latest checkpoint in --output-dir.") var resume = false
    @Flag(help: "No progress line.") var quiet = false
    @Flag(help: "Recompute each block's activations in the backward pass instead of keeping them (less memory, ~1/3 more compute).")
    var gradientCheckpointing = false
    @Flag(inversion: .prefixedNo,
          help: "Split each micro-batch's sequences over the --threads, each shard single-threaded (off: every kernel threaded).")
    var threadShards = true
    @Option(help: "How AdamW keeps its moments: f32 (torch's AdamW) or bf16 (half the optimizer memory, stochastic rounding).")
    var optimizerMoments: MomentPrecision = .f32

    func options(for stage: TrainingStage) throws -> TrainingOptions {
        var o = TrainingOptions.defaults(for: stage)
        if let epochs { o.epochs = epochs }
        o.maxSteps = maxSteps
        if let batchSize { o.batchSize = batchSize }
        if let gradientAccumulation { o.gradientAccumulation = gradientAccumulation }
        if let learningRate { o.learningRate = learningRate }
        if let weightDecay { o.weightDecay = weightDecay }
        o.optimizerMoments = optimizerMoments
        if let warmupRatio { o.warmupRatio = warmupRatio }
        if let maxGradNorm { o.maxGradNorm = maxGradNorm }
        if let modelMaxLength { o.modelMaxLength = modelMaxLength }
        if let groupByModalityLength { o.groupByModalityLength = groupByModalityLength }
        if let lengthGrouping {
            guard lengthGrouping > 0 else { throw ValidationError("--length-grouping must be positive, got \(lengthGrouping)") }
            o.lengthGrouping = lengthGrouping
        }
        if let saveSteps { o.saveSteps = saveSteps }
        if let saveTotalLimit { o.saveTotalLimit = saveTotalLimit }
        o.seed = seed
        guard o.batchSize > 0, o.gradientAccumulation > 0, o.epochs > 0, o.saveSteps > 0, o.saveTotalLimit > 0,
              o.learningRate > 0, (maxSteps ?? 1) > 0 else {
            throw ValidationError("batch size, accumulation, epochs, steps, save steps/limit and learning rate must be positive")
        }
        return o
    }

    func padsToSquare(default d: Bool) throws -> Bool {
        switch imageAspectRatio {
        case nil: return d
        case "pad": return true
        case "square", "crop": return false
        case let other?: throw ValidationError("--image-aspect-ratio must be pad or square, got \(other)")
        }
    }
}

/// Loads data, model and features, runs the loop; shared by both stages.
func runTraining(stage: TrainingStage, template: DataTemplate, inputs: TrainInputs, hyper: TrainHyperparameters,
                 padDefault: Bool, projectorFile: String?, projectorLR: Float?) throws -> (LLaVAModel, LLaVATrainingModel, Trainer) {
    var options = try hyper.options(for: stage)
    if let projectorLR { options.projectorLearningRate = projectorLR }
    guard ["default", "whiten"].contains(inputs.mmProjectorInit) else {
        throw ValidationError("--mm-projector-init must be default or whiten, got \(inputs.mmProjectorInit)")
    }
    let pad = try hyper.padsToSquare(default: padDefault)
    let logger = Logger(label: "llava.train")
    let source = try inputs.source(padToSquare: pad, seed: hyper.seed, projectorFile: projectorFile)
    var model = try source.load()
    let folder = URL(fileURLWithPath: inputs.imageFolder)
    let records = try DataLoading.records(contentsOf: URL(fileURLWithPath: inputs.data), imageFolder: folder)
    // Features depend on the tower only, so they outlive the projector swap below.
    let features = try ImageFeatures(model: model, imageFolder: folder, aspect: pad ? .pad : .crop,
                                     cacheFile: inputs.featureCache.map { URL(fileURLWithPath: $0) })
    if inputs.mmProjectorInit == "whiten" {
        guard source.startsNewProjector else {
            throw ValidationError("--mm-projector-init whiten starts a new projector; this run continues a trained one (a LLaVA checkpoint or --pretrain-mm-mlp-adapter)")
        }
        let images = Array(Set(records.compactMap(\.image)).sorted().prefix(1000))
        let moments = try FeatureMoments(paths: images, width: model.vision.config.hiddenSize, features: features.features)
        model = try model.replacingProjector(try ProjectorWhitening.whitened(model.projector, by: moments))
        printErr(String(format: "projector: whitened input (%d feature rows of %d images; largest variance %.3g)",
                        moments.rows, images.count, moments.largestEigenvalue))
    }
    let preprocessor = DataPreprocessor(tokenizer: model.tokenizer, template: template, modelMaxLength: options.modelMaxLength)
    let samples = try records.map { try preprocessor.sample(from: $0) }
    let lengths = records.map { $0.wordCount }
    let graph = LLaVATrainingModel(model: model, stage: stage,
                                   projectorLRScale: options.projectorLearningRate.map { $0 / options.learningRate } ?? 1,
                                   seed: hyper.seed)
    graph.decoder.gradientCheckpointing = hyper.gradientCheckpointing
    let trainer = try Trainer(graph: graph, samples: samples, lengths: lengths, features: features, options: options,
                              outputDirectory: URL(fileURLWithPath: hyper.outputDir), logger: logger, group: .world)
    try runTrainer(trainer, hyper: hyper,
                   what: "training \(samples.count) samples for \(trainer.totalSteps) steps; \(graph.parameters.reduce(0) { $0 + $1.value.count }) trainable parameters")
    return (model, graph, trainer)
}

/// Resumes if asked, runs the loop and reports; under MPI only rank 0 speaks.
func runTrainer(_ trainer: Trainer, hyper: TrainHyperparameters, what: String) throws {
    let group = trainer.group
    func say(_ s: String) { if group.isRoot { printErr(s) } }
    trainer.graph.shardsAcrossThreads = hyper.threadShards
    if hyper.resume, try trainer.resumeIfPossible() == nil { say("no checkpoint in \(hyper.outputDir): starting from step 0") }
    say(what + (group.size > 1 ? " on \(group.size) ranks (MPI), each global batch split across them" : ""))
    let summary = try trainer.run(progress: !hyper.quiet)
    say(String(format: "done: %d steps in %.1f s, %.0f tokens/s; final loss %.4f", summary.steps, summary.seconds,
               summary.tokensPerSecond, summary.losses.last ?? .nan))
}

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stage 1, feature alignment: train the projector on image-caption pairs (template plain).",
        discussion: "Writes OUTPUT_DIR/mm_projector.safetensors (the reference's keys, model.mm_projector.*).")

    @OptionGroup var inputs: TrainInputs
    @OptionGroup var hyper: TrainHyperparameters
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        try ProcessGroup.world.runOrAbort {
            let (_, graph, trainer) = try runTraining(stage: .pretrain, template: .plain, inputs: inputs, hyper: hyper,
                                                       padDefault: false, projectorFile: nil, projectorLR: nil)
            guard trainer.group.isRoot else { return }
            let out = trainer.outputDirectory.appendingPathComponent("mm_projector.safetensors")
            try ModelExport.writeProjector(graph.projector, to: out)
            printErr("wrote \(out.path)")
        }
    }
}

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stage 2, visual instruction tuning: projector + LLM, fully or with LoRA (template v1).",
        discussion: "Writes a complete llava-hf model to OUTPUT_DIR/model (LoRA adapters folded in). With --lora-r, OUTPUT_DIR/adapter holds the adapter, the projector trained beside it (non_lora_trainables.safetensors) and what `llava export --merge-lora` checks the base against.")

    @OptionGroup var inputs: TrainInputs
    @OptionGroup var hyper: TrainHyperparameters
    @Option(help: "The stage-1 projector (mm_projector.safetensors).") var pretrainMmMlpAdapter: String?
    @Option(help: "LoRA rank; 0 trains the whole LLM.") var loraR = 0
    @Option(help: "LoRA alpha (scale alpha / r).") var loraAlpha: Float = 256
    @Option(help: "Dropout on the LoRA input.") var loraDropout: Float = 0.05
    @Option(help: "The projector's learning rate (default: the LLM's; 2e-5 with LoRA).") var mmProjectorLr: Float?
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        guard loraR >= 0, loraDropout >= 0, loraDropout < 1 else { throw ValidationError("--lora-r >= 0 and --lora-dropout in [0, 1)") }
        let stage: TrainingStage = loraR > 0 ? .finetuneLoRA(rank: loraR, alpha: loraAlpha, dropout: loraDropout) : .finetuneFull
        try ProcessGroup.world.runOrAbort {
            let (model, graph, trainer) = try runTraining(stage: stage, template: .v1, inputs: inputs, hyper: hyper, padDefault: true,
                                                          projectorFile: pretrainMmMlpAdapter, projectorLR: mmProjectorLr)
            if trainer.group.isRoot { try export(model, graph, trainer) }
        }
    }

    private func export(_ model: LLaVAModel, _ graph: LLaVATrainingModel, _ trainer: Trainer) throws {
        let out = trainer.outputDirectory.appendingPathComponent("model")
        try ModelExport.writeLLaVAHF(to: out, decoder: graph.decoder, projector: graph.projector, vision: model.vision,
                                     llava: model.configuration, tokenizerDirectory: URL(fileURLWithPath: inputs.modelNameOrPath),
                                     imageProcessor: model.imageProcessor.configuration)
        if loraR > 0 {
            try LoRAAdapterFiles.write(graph.decoder, projector: graph.projector, model: model, basePath: inputs.modelNameOrPath,
                                       to: trainer.outputDirectory.appendingPathComponent("adapter"))
        }
        printErr("wrote \(out.path)")
    }
}

struct CacheFeatures: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache-features",
        abstract: "Run the frozen vision tower over a data set's images once and store the features.")

    @OptionGroup var inputs: TrainInputs
    @Option(help: "pad or square (as the stage that will use the cache).") var imageAspectRatio = "square"
    @Option(help: "Output file (safetensors).") var output: String
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let pad = imageAspectRatio == "pad"
        let model = try inputs.source(padToSquare: pad, seed: 0, projectorFile: nil).load()
        let folder = URL(fileURLWithPath: inputs.imageFolder)
        let records = try DataLoading.records(contentsOf: URL(fileURLWithPath: inputs.data), imageFolder: folder)
        let features = try ImageFeatures(model: model, imageFolder: folder, aspect: pad ? .pad : .crop)
        // At most ten redraws a second: a cache of small images goes by thousands a second.
        let meter = ProgressMeter(quiet: false)
        try features.write(paths: records.compactMap(\.image), to: URL(fileURLWithPath: output)) { done, total in
            meter.update("image", done, total)
        }
        meter.finish()
        printErr("wrote \(output)")
    }
}
