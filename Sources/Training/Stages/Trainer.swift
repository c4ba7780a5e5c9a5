import Distributed
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
    /// How AdamW keeps its moments (`--optimizer-moments`): f32 as torch does, or bf16 with
    /// stochastic rounding (half the optimizer memory).
    public var optimizerMoments: MomentPrecision = .f32
    public var warmupRatio: Float = 0.03
    public var maxGradNorm: Float = 1
    public var modelMaxLength = 2048
    public var groupByModalityLength = false
    /// Batches per length-sorted group (`--length-grouping`, see `BatchSampler.lengthGroup`).
    public var lengthGrouping = 1
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
///
/// Data parallel over `group` (MPI ranks; a world of one runs alone): every rank draws the same
/// global batches from the same sampler and runs only its contiguous shard of each, reading
/// only those samples' features; the loss terms and gradients are summed across ranks
/// (bucketed allreduce), so every rank takes the same optimizer step, the one a single
/// process would take with the whole batch. Rank 0 alone writes metrics, progress and
/// checkpoints; on resume every rank reads the same checkpoint.
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
    public let group: ProcessGroup
    private let reducer: GradientReducer

    public init(graph: LLaVATrainingModel, samples: [TrainingSample], lengths: [Int], features: ImageFeatures?,
                options: TrainingOptions, outputDirectory: URL, logger: Logger = Logger(label: "llava.train"),
                group: ProcessGroup = .single) throws {
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
        self.group = group
        reducer = GradientReducer(group: group)
        sampler = BatchSampler(lengths: lengths, isMultimodal: samples.map { $0.imagePath != nil },
                               batchSize: options.batchSize, seed: options.seed,
                               groupByModality: options.groupByModalityLength, lengthGroup: options.lengthGrouping)
        let perEpoch = max(1, (sampler.stepsPerEpoch + options.gradientAccumulation - 1) / options.gradientAccumulation)
        totalSteps = options.maxSteps ?? perEpoch * options.epochs
        optimizer = AdamW(weightDecay: options.weightDecay, momentPrecision: options.optimizerMoments)
        schedule = LearningRateSchedule(baseLR: options.learningRate, totalSteps: totalSteps, warmupRatio: options.warmupRatio)
        if let p = options.projectorLearningRate {
            for param in graph.projector.parameters { param.lrScale = p / options.learningRate }
        }
        // Every rank starts from rank 0's values (they agree already when seeded alike).
        reducer.broadcastValues(graph.parameters)
    }

    var metricsURL: URL { outputDirectory.appendingPathComponent("metrics.jsonl") }

    /// Restores the latest checkpoint in the output directory, if any; returns its step.
    @discardableResult
    public func resumeIfPossible() throws -> Int? {
        guard let dir = TrainingCheckpoint.latest(in: outputDirectory) else { return nil }
        let c = try TrainingCheckpoint.read(from: dir)
        guard c.optimizer.momentPrecision == options.optimizerMoments else {
            throw TrainingError.invalidArgument(
                "\(dir.path) keeps AdamW moments in \(c.optimizer.momentPrecision.rawValue), not "
                + "\(options.optimizerMoments.rawValue): resume with --optimizer-moments \(c.optimizer.momentPrecision.rawValue)")
        }
        try c.restore(into: graph.parameters)
        optimizer = c.optimizer
        let state = try JSONDecoder().decode(BatchSampler.State.self, from: c.samplerState)
        try restoreSampler(state, from: dir)
        graph.decoder.rngState = c.rng
        step = c.step
        if group.isRoot { logger.info("resumed from \(dir.path) at step \(step)") }
        return step
    }

    /// Continues the checkpoint's batch stream, or refuses a checkpoint whose batches this run
    /// would not continue (another batch size, length grouping or data set), naming the option.
    func restoreSampler(_ state: BatchSampler.State, from dir: URL) throws {
        do {
            try sampler.restore(state)
        } catch {
            let what: String
            switch error {
            case .batchSize(let saved, let current): what = "--batch-size \(saved), not \(current)"
            case .lengthGroup(let saved, let current): what = "--length-grouping \(saved), not \(current)"
            case .stepsPerEpoch(let saved, let current): what = "\(saved) batches per epoch, where this data gives \(current)"
            case .position(let epoch, let position, let steps):
                what = "batch \(position) of epoch \(epoch) next, past this data's \(steps) batches per epoch"
            }
            throw TrainingError.invalidArgument("\(dir.path) was saved by a run with \(what); resume with the settings and data it was started with")
        }
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
        let root = group.isRoot
        if root { try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true) }
        let metrics: MetricsLog? = try root ? MetricsLog(url: metricsURL, keepingStepsThrough: step) : nil
        var progress = ProgressLine(totalSteps: totalSteps, startStep: step)
        let params = graph.parameters
        let clock = ContinuousClock(), start = clock.now
        var losses: [Float] = [], positionsRun = 0
        while step < totalSteps {
            let t0 = clock.now
            zeroGradients(params)
            // Each micro-batch: the global batch's indices, this rank's shard of them, its examples.
            let micro = try (0..<options.gradientAccumulation).map { _ -> (examples: [TrainingExample], first: Int) in
                let global = sampler.nextBatch(), mine = group.shard(of: global.count)
                return (try examples(Array(global[mine])), mine.lowerBound)
            }
            var counts = [Double(try micro.reduce(0) { $0 + (try graph.countTargets($1.examples)) }),
                          Double(try micro.reduce(0) { $0 + (try graph.countPositions($1.examples)) })]
            group.allreduceSum(&counts)
            let normalizer = Int(counts[0]), positions = Int(counts[1])
            var lossSum = 0.0
            for batch in micro { lossSum += try graph.accumulate(batch.examples, normalizer: normalizer, firstIndex: batch.first) }
            lossSum = group.sum(lossSum)
            reducer.allreduceGradients(params)
            let loss = Float(lossSum / Double(max(1, normalizer)))
            let norm = clipGradientNorm(params, maxNorm: options.maxGradNorm)
            let lr = schedule.lr(atStep: step)
            optimizer.step(params, lr: lr)
            step += 1
            positionsRun += positions
            let elapsed = seconds(clock.now - start)
            let rate = Double(positions) / max(1e-9, seconds(clock.now - t0))
            losses.append(loss)
            guard root else { continue }
            try metrics?.append(MetricsRecord(step: step, loss: loss, lr: lr, gradNorm: norm, positions: positions,
                                              tokens: normalizer, tokensPerSecond: rate, elapsed: elapsed))
            if show { progress.update(step: step, loss: loss, lr: lr, tokensPerSecond: rate, elapsed: elapsed) }
            if step % options.saveSteps == 0 || step == totalSteps { try checkpoint() }
        }
        let total = seconds(clock.now - start)
        let summary = TrainingSummary(steps: step, losses: losses, tokensPerSecond: Double(positionsRun) / max(1e-9, total),
                                      seconds: total)
        guard root else { return summary }
        if show { progress.finish() }
        let all = (try? MetricsLog.read(metricsURL)) ?? []
        try? LossCurve.writeSVG(steps: all.map(\.step), losses: all.map(\.loss),
                                to: outputDirectory.appendingPathComponent("loss.svg"), title: "training loss")
        return summary
    }

    private func checkpoint() throws {
        let state = try JSONEncoder().encode(sampler.state)
        let c = TrainingCheckpoint(step: step, parameters: graph.parameters, optimizer: optimizer, schedule: schedule,
                                   samplerState: state, rng: graph.decoder.rngState)
        let url = try c.write(to: outputDirectory, keepLast: options.saveTotalLimit)
        logger.debug("saved \(url.path)")
    }
}
