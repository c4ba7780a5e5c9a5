import Foundation
import LLaVA
import Language
import Logging
import Tensor
import Tokenizer

/// A run's hyper-parameters. Defaults are the reference's LLaVA-1.5 recipe for the stage
/// (see `TrainingOptions.defaults(for:)`); each is a flag of `llava train`.
public struct TrainingOptions: Sendable {
    public var epochs = 1
    /// Stop after this many optimizer steps (overrides `epochs` when set).
    public var maxSteps: Int?
    public var batchSize = 16
    public var gradientAccumulation = 1
    public var learningRate: Float = 2e-5
    /// The projector's learning rate (`--mm-projector-lr`); nil uses `learningRate`.
    public var projectorLearningRate: Float?
    public var weightDecay: Float = 0
    public var warmupRatio: Float = 0.03
    public var maxGradNorm: Float = 1
    public var modelMaxLength = 2048
    public var groupByModalityLength = false
    public var seed: UInt64 = 42
    public var saveSteps = 500
    public var saveTotalLimit = 1
    public var logEvery = 1

    public init() {}

    /// The reference's scripts: pretrain.sh (stage 1), finetune.sh and finetune_lora.sh (stage 2),
    /// with per-device batch sizes (the reference runs 8 GPUs; use --gradient-accumulation to match
    /// its global batch of 256 / 128).
    public static func defaults(for stage: TrainingStage) -> TrainingOptions {
        var o = TrainingOptions()
        switch stage {
        case .pretrain:
            o.learningRate = 1e-3
            o.batchSize = 32
        case .finetuneFull:
            o.learningRate = 2e-5
            o.groupByModalityLength = true
        case .finetuneLoRA:
            o.learningRate = 2e-4
            o.projectorLearningRate = 2e-5
            o.groupByModalityLength = true
        }
        return o
    }
}

/// What a finished run reports.
public struct TrainingSummary: Sendable {
    public var steps: Int
    public var losses: [Float]
    /// Positions processed per second (images expanded to their feature rows; CLIP: image-text pairs).
    public var tokensPerSecond: Double
    public var seconds: Double
}

/// The training loop: gradient accumulation, clipping, AdamW with warmup + cosine, metrics,
/// a progress line, atomic checkpoints every `saveSteps`, and exact resume.
public final class Trainer {
    public let graph: LLaVATrainingModel
    public let samples: [TrainingSample]
    /// The images' vision features; nil for text-only training (language-model pretraining).
    public let features: ImageFeatures?
    public let options: TrainingOptions
    public let outputDirectory: URL
    let logger: Logger
    private(set) var sampler: BatchSampler
    private var optimizer: AdamW
    let schedule: LearningRateSchedule
    public let totalSteps: Int
    private var step = 0

    public init(graph: LLaVATrainingModel, samples: [TrainingSample], lengths: [Int], features: ImageFeatures?,
                options: TrainingOptions, outputDirectory: URL, logger: Logger = Logger(label: "llava.train")) throws {
        guard !samples.isEmpty else { throw TrainingError.invalidArgument("the data set has no samples") }
        let vocab = graph.decoder.config.vocabularySize
        for s in samples {
            if let bad = (s.inputIDs + s.labels).first(where: { $0 >= vocab || ($0 < 0 && $0 != ignoreIndex && $0 != originalImagePlaceholder) }) {
                throw TrainingError.invalidArgument("sample \(s.id): token id \(bad) is outside the vocabulary (0..<\(vocab))")
            }
        }
        self.graph = graph
        self.samples = samples
        self.features = features
        self.options = options
        self.outputDirectory = outputDirectory
        self.logger = logger
        sampler = BatchSampler(lengths: lengths, isMultimodal: samples.map { $0.imagePath != nil },
                               batchSize: options.batchSize, seed: options.seed,
                               groupByModality: options.groupByModalityLength)
        let perEpoch = max(1, (sampler.stepsPerEpoch + options.gradientAccumulation - 1) / options.gradientAccumulation)
        totalSteps = options.maxSteps ?? perEpoch * options.epochs
        optimizer = AdamW(weightDecay: options.weightDecay)
        schedule = LearningRateSchedule(baseLR: options.learningRate, totalSteps: totalSteps, warmupRatio: options.warmupRatio)
        if let p = options.projectorLearningRate {
            for param in graph.projector.parameters { param.lrScale = p / options.learningRate }
        }
    }

    var metricsURL: URL { outputDirectory.appendingPathComponent("metrics.jsonl") }

    /// Restores the latest checkpoint in the output directory, if any; returns its step.
    @discardableResult
    public func resumeIfPossible() throws -> Int? {
        guard let dir = TrainingCheckpoint.latest(in: outputDirectory) else { return nil }
        let c = try TrainingCheckpoint.read(from: dir)
        try c.restore(into: graph.parameters)
        optimizer = c.optimizer
        sampler.state = try JSONDecoder().decode(BatchSampler.State.self, from: c.samplerState)
        graph.decoder.rngState = c.rng
        step = c.step
        logger.info("resumed from \(dir.path) at step \(step)")
        return step
    }

    /// The examples of one micro-batch.
    func examples(_ indices: [Int]) throws -> [TrainingExample] {
        try indices.map { i in
            let s = samples[i]
            guard let path = s.imagePath else {
                return TrainingExample(inputIDs: s.inputIDs, labels: s.labels, imageFeatures: [])
            }
            guard let features else { throw TrainingError.invalidArgument("sample \(s.id) has an image but the run has no vision tower") }
            return TrainingExample(inputIDs: s.inputIDs, labels: s.labels, imageFeatures: [try features.features(path)])
        }
    }

    /// Runs from the current step to `totalSteps`.
    public func run(progress show: Bool = true) throws -> TrainingSummary {
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let metrics = try MetricsLog(url: metricsURL, keepingStepsThrough: step)
        var progress = ProgressLine(totalSteps: totalSteps, startStep: step)
        let params = graph.parameters
        let clock = ContinuousClock(), start = clock.now
        var losses: [Float] = [], positionsRun = 0
        while step < totalSteps {
            let t0 = clock.now
            zeroGradients(params)
            let micro = try (0..<options.gradientAccumulation).map { _ in try examples(sampler.nextBatch()) }
            let normalizer = try micro.reduce(0) { $0 + (try graph.countTargets($1)) }
            var lossSum = 0.0
            for batch in micro { lossSum += try graph.accumulate(batch, normalizer: normalizer) }
            let loss = Float(lossSum / Double(max(1, normalizer)))
            let norm = clipGradientNorm(params, maxNorm: options.maxGradNorm)
            let lr = schedule.lr(atStep: step)
            optimizer.step(params, lr: lr)
            step += 1
            let positions = try micro.reduce(0) { $0 + (try graph.countPositions($1)) }
            positionsRun += positions
            let elapsed = seconds(clock.now - start)
            let rate = Double(positions) / max(1e-9, seconds(clock.now - t0))
            losses.append(loss)
            try metrics.append(MetricsRecord(step: step, loss: loss, lr: lr, gradNorm: norm, positions: positions,
                                             tokens: normalizer, tokensPerSecond: rate, elapsed: elapsed))
            if show { progress.update(step: step, loss: loss, lr: lr, tokensPerSecond: rate, elapsed: elapsed) }
            if step % options.saveSteps == 0 || step == totalSteps { try checkpoint() }
        }
        if show { progress.finish() }
        let all = (try? MetricsLog.read(metricsURL)) ?? []
        try? LossCurve.writeSVG(steps: all.map(\.step), losses: all.map(\.loss),
                                to: outputDirectory.appendingPathComponent("loss.svg"), title: "training loss")
        let total = seconds(clock.now - start)
        return TrainingSummary(steps: step, losses: losses, tokensPerSecond: Double(positionsRun) / max(1e-9, total), seconds: total)
    }

    private func checkpoint() throws {
        let state = try JSONEncoder().encode(sampler.state)
        let c = TrainingCheckpoint(step: step, parameters: graph.parameters, optimizer: optimizer, schedule: schedule,
                                   samplerState: state, rng: graph.decoder.rngState)
        let url = try c.write(to: outputDirectory, keepLast: options.saveTotalLimit)
        logger.debug("saved \(url.path)")
    }
}
