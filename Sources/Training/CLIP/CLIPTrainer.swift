import Distributed
import Foundation
import Logging
import Tensor
import Tokenizer
import Vision

/// Hyper-parameters of a CLIP run (each a flag of `llava train clip`).
public struct CLIPTrainingOptions: Sendable {
    public var epochs = 10
    /// Stop after this many optimizer steps (overrides `epochs` when set).
    public var maxSteps: Int?
    public var batchSize = 64
    public var learningRate: Float = 1e-3
    public var warmupRatio: Float = 0.1
    public var weightDecay: Float = 0.1
    public var maxGradNorm: Float = 1
    public var seed: UInt64 = 42
    public var saveSteps = 500
    public var saveTotalLimit = 1
    /// Standard deviation of seeded normal noise added to the image tower's position embedding of
    /// the written model, once training is done (nil: none). Contrastive training on a small world
    /// leaves that embedding tiny next to the patch content; added at the end, the noise gives every
    /// patch a large mark of its place at layer 0. (A tower started with a large embedding instead
    /// trains around it: the LLaVA on one such tower never told left from right.)
    public var finalVisionPositionNoise: Float?

    public init() {}
}

/// The CLIP training loop: an epoch shows every image once, with one of its captions, in a fresh
/// order derived from the seed (so a resumed run sees the same batches). Two captions of one image
/// never share a batch (each would be the other's false negative), and images of one contrast
/// group (`CLIPPair.group`) stay together, so the batch holds their hard negatives. Then
/// contrastive loss, clipping, AdamW with warmup + cosine,
/// logit_scale clamped after each step, metrics.jsonl, a progress line, loss.svg, atomic
/// checkpoints and exact resume.
///
/// Data parallel over `group` as ``Trainer`` is: every rank derives the same global batch from
/// the step and runs its contiguous shard of it; the embeddings are all-gathered for the
/// full-batch loss (see ``CLIPTrainingModel/accumulate(pixels:captions:group:)``) and the
/// gradients summed (bucketed allreduce), so every rank takes the step one process would take
/// with the whole batch. Rank 0 alone writes metrics, progress, checkpoints and the model; on
/// resume every rank reads the same checkpoint.
///
/// ```swift
/// let trainer = try CLIPTrainer(model: model, pairs: pairs, captions: ids, images: cache,
///                               options: options, outputDirectory: out)
/// try trainer.resumeIfPossible()
/// let summary = try trainer.run()
/// ```
public final class CLIPTrainer {
    public let model: CLIPTrainingModel
    public let pairs: [CLIPPair]
    public let captions: [[Int]]
    public let images: CLIPImageCache
    public let options: CLIPTrainingOptions
    public let outputDirectory: URL
    public let totalSteps: Int
    public let stepsPerEpoch: Int
    /// Pair indices per image, and images (by index into `imagePairs`) per batching unit: a
    /// contrast group, or a single image outside any group.
    private let imagePairs: [[Int]]
    private let units: [[Int]]
    let schedule: LearningRateSchedule
    let logger: Logger
    private var optimizer: AdamW
    private(set) var step = 0
    public let group: ProcessGroup
    private let reducer: GradientReducer

    public init(model: CLIPTrainingModel, pairs: [CLIPPair], captions: [[Int]], images: CLIPImageCache,
                options: CLIPTrainingOptions, outputDirectory: URL, logger: Logger = Logger(label: "llava.train.clip"),
                group: ProcessGroup = .single) throws {
        guard pairs.count >= 2, captions.count == pairs.count else {
            throw TrainingError.invalidArgument("contrastive training needs at least 2 pairs with a caption each (found \(pairs.count) pairs, \(captions.count) captions)")
        }
        guard options.batchSize >= 2 else { throw TrainingError.invalidArgument("--batch-size must be at least 2, got \(options.batchSize)") }
        self.model = model
        self.pairs = pairs
        self.captions = captions
        self.images = images
        self.options = options
        self.outputDirectory = outputDirectory
        self.logger = logger
        self.group = group
        reducer = GradientReducer(group: group)
        var imageIndex: [String: Int] = [:], imagePairs: [[Int]] = [], groupUnits: [Int: Int] = [:], units: [[Int]] = []
        for (p, pair) in pairs.enumerated() {
            if let i = imageIndex[pair.image] { imagePairs[i].append(p); continue }
            let i = imagePairs.count
            imageIndex[pair.image] = i
            imagePairs.append([p])
            if let g = pair.group, let u = groupUnits[g] { units[u].append(i); continue }
            if let g = pair.group { groupUnits[g] = units.count }
            units.append([i])
        }
        guard imagePairs.count >= 2 else {
            throw TrainingError.invalidArgument("contrastive training needs at least 2 distinct images (all \(pairs.count) pairs show \(pairs[0].image))")
        }
        // Every rank runs at least one pair of each batch (a rank without rows has no tower pass).
        let batch = min(options.batchSize, imagePairs.count)
        guard batch >= group.size else {
            throw TrainingError.invalidArgument("a batch of \(batch) pairs cannot be split over \(group.size) ranks: use --batch-size ≥ \(group.size) (and as many images) or fewer ranks")
        }
        self.imagePairs = imagePairs
        self.units = units
        // Full batches only (an odd small last batch would be an easier task); at least one batch.
        stepsPerEpoch = max(1, imagePairs.count / options.batchSize)
        totalSteps = options.maxSteps ?? stepsPerEpoch * options.epochs
        schedule = LearningRateSchedule(baseLR: options.learningRate, totalSteps: totalSteps, warmupRatio: options.warmupRatio)
        optimizer = AdamW(weightDecay: options.weightDecay)
        // Every rank starts from rank 0's values (they agree already when seeded alike).
        reducer.broadcastValues(model.parameters)
    }

    /// The pair indices of optimizer step `step` (0-based): the epoch's units shuffled and laid
    /// end to end, each image with a caption drawn for this epoch, cut into batches. A group only
    /// straddles two batches when group sizes do not divide the batch size.
    public func batch(atStep step: Int) -> [Int] {
        let epoch = step / stepsPerEpoch, index = step % stepsPerEpoch
        var rng = SplitMix64(seed: options.seed &+ UInt64(epoch) &* 0x9E37_79B9)
        var order = units
        order.shuffle(using: &rng)
        var chosen: [Int] = []
        chosen.reserveCapacity(imagePairs.count)
        for unit in order {
            for image in unit {
                let candidates = imagePairs[image]
                chosen.append(candidates.count == 1 ? candidates[0] : candidates[Int(rng.next() % UInt64(candidates.count))])
            }
        }
        let size = min(options.batchSize, chosen.count)
        return Array(chosen[(index * size)..<((index + 1) * size)])
    }

    /// Restores the latest checkpoint in the output directory, if any; returns its step.
    @discardableResult
    public func resumeIfPossible() throws -> Int? {
        guard let dir = TrainingCheckpoint.latest(in: outputDirectory) else { return nil }
        let c = try TrainingCheckpoint.read(from: dir)
        try c.restore(into: model.parameters)
        optimizer = c.optimizer
        step = c.step
        if group.isRoot { logger.info("resumed from \(dir.path) at step \(step)") }
        return step
    }

    /// One optimizer step on the global batch `indices` (this rank runs its shard); returns the
    /// loss and retrieval accuracy before it, the same on every rank.
    public func trainStep(_ indices: [Int]) throws -> (result: CLIPContrastiveResult, gradNorm: Float, lr: Float) {
        let params = model.parameters
        zeroGradients(params)
        let mine = indices[group.shard(of: indices.count)]
        let pixels = mine.flatMap { images.pixels(pairs[$0].image) }
        let result = try model.accumulate(pixels: pixels, captions: mine.map { captions[$0] }, group: group)
        reducer.allreduceGradients(params)
        let norm = clipGradientNorm(params, maxNorm: options.maxGradNorm)
        let lr = schedule.lr(atStep: step)
        if norm.isFinite { optimizer.step(params, lr: lr) }
        model.clampLogitScale()
        step += 1
        return (result, norm, lr)
    }

    /// Runs from the current step to `totalSteps`, then writes the HF CLIP directory into the
    /// output directory (`tokenizer` files beside it). Under MPI only rank 0 writes; every rank
    /// returns the same losses.
    public func run(progress show: Bool = true, tokenizer: CLIPTokenizerSetup? = nil) throws -> TrainingSummary {
        let root = group.isRoot
        if root { try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true) }
        let metrics: MetricsLog? = try root ? MetricsLog(url: outputDirectory.appendingPathComponent("metrics.jsonl"),
                                                         keepingStepsThrough: step) : nil
        var progress = ProgressLine(totalSteps: totalSteps, startStep: step)
        let clock = ContinuousClock(), start = clock.now
        var losses: [Float] = [], pairsSeen = 0
        while step < totalSteps {
            let t0 = clock.now
            let indices = batch(atStep: step)
            let (r, norm, lr) = try trainStep(indices)
            pairsSeen += indices.count
            let rate = Double(indices.count) / max(1e-9, clipSeconds(clock.now - t0))
            let elapsed = clipSeconds(clock.now - start)
            losses.append(r.loss)
            guard root else { continue }
            try metrics?.append(MetricsRecord(step: step, loss: r.loss, lr: lr, gradNorm: norm, positions: indices.count,
                                              tokens: indices.count, tokensPerSecond: rate, elapsed: elapsed))
            if show { progress.update(step: step, loss: r.loss, lr: lr, tokensPerSecond: rate, elapsed: elapsed) }
            if step % options.saveSteps == 0 || step == totalSteps { try checkpoint() }
        }
        let total = clipSeconds(clock.now - start)
        let summary = TrainingSummary(steps: step, losses: losses, tokensPerSecond: Double(pairsSeen) / max(1e-9, total),
                                      seconds: total)
        guard root else { return summary }
        if show { progress.finish() }
        let all = (try? MetricsLog.read(outputDirectory.appendingPathComponent("metrics.jsonl"))) ?? []
        try? LossCurve.writeSVG(steps: all.map(\.step), losses: all.map(\.loss),
                                to: outputDirectory.appendingPathComponent("loss.svg"), title: "CLIP contrastive loss")
        if let std = options.finalVisionPositionNoise { model.addVisionPositionNoise(std: std, seed: options.seed) }
        try model.write(to: outputDirectory, tokenizer: tokenizer?.files)
        return summary
    }

    private func checkpoint() throws {
        let c = TrainingCheckpoint(step: step, parameters: model.parameters, optimizer: optimizer, schedule: schedule,
                                   samplerState: Data(), rng: SplitMix64(seed: options.seed))
        let url = try c.write(to: outputDirectory, keepLast: options.saveTotalLimit)
        logger.debug("saved \(url.path)")
    }
}

private func clipSeconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// The caption tokenizer of a CLIP run and the files written beside the model.
///
/// The text tower pools the hidden state at the end-of-text token. transformers reads an
/// `eos_token_id` of 2 as the legacy quirk "pool at the largest id" — and SentencePiece-style
/// tokenizers put `</s>` at 2 — so when the tokenizer's EOS is 2 (or absent) a special
/// `<|endoftext|>` token is added (id = the vocabulary size, the largest id), and it ends every
/// caption: both of transformers' pooling rules then pick it.
public struct CLIPTokenizerSetup {
    public let tokenizer: Tokenizer
    public let bosTokenID: Int?
    public let eosTokenID: Int
    public let padTokenID: Int
    /// Ids 0..<vocabularySize, the added token included.
    public let vocabularySize: Int
    let files: TokenizerFiles

    public init(directory: URL) throws {
        var files = try TokenizerFiles(directory: directory)
        var tokenizer = try Tokenizer(directory: directory)
        if let eos = tokenizer.eosTokenID, eos != 2 {
            eosTokenID = eos
        } else {
            eosTokenID = try files.ensureToken("<|endoftext|>")
            tokenizer = try Tokenizer(tokenizerJSON: Data(files.tokenizerJSON.utf8),
                                      configJSON: files.configJSON.map { Data($0.utf8) }, source: directory.path)
        }
        self.tokenizer = tokenizer
        self.files = files
        bosTokenID = tokenizer.bosTokenID
        padTokenID = tokenizer.padTokenID ?? eosTokenID
        vocabularySize = max(tokenizer.vocabularySize, eosTokenID + 1)
    }

    /// The caption encoder for a tower of `maxPositions` positions.
    public func encoder(maxPositions: Int) -> CLIPCaptionEncoder {
        CLIPCaptionEncoder(tokenizer: tokenizer, bosTokenID: bosTokenID, eosTokenID: eosTokenID, maxPositions: maxPositions)
    }
}
