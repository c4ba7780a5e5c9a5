import Foundation
import LLaVA
import Language
import Tensor

// Shape legend: T positions of one sequence, R positions of a packed pass, D LLM width,
// V vocabulary, P feature rows per image, W vision width.

/// One training sequence, ready for the graph.
public struct TrainingExample {
    /// Token ids; an image is a single `-200` placeholder (original layout) or a run of
    /// `featuresPerImage` image-token ids (llava-hf layout).
    public var inputIDs: [Int]
    /// Per input id: the id to learn at that position, or -100 to ignore it.
    public var labels: [Int]
    /// Each image's vision features (P, W), from the frozen tower (or the feature cache).
    public var imageFeatures: [[Float]]

    public init(inputIDs: [Int], labels: [Int], imageFeatures: [[Float]]) {
        self.inputIDs = inputIDs
        self.labels = labels
        self.imageFeatures = imageFeatures
    }
}

public let ignoreIndex = -100
public let originalImagePlaceholder = -200

/// Projector + decoder in training; the vision tower stays outside (frozen, forward only).
public final class LLaVATrainingModel {
    public let decoder: TrainableDecoder
    public let projector: TrainableProjector
    public let imageTokenID: Int
    public let featuresPerImage: Int
    /// Positions run through the decoder at once; a batch longer than this runs in several
    /// packed passes (same gradients, less activation memory).
    public var maxRowsPerPass = 16_384
    let scratch = PackedPassScratch()
    private var tokenIDs: [Int] = [], targets: [Int32] = []

    public init(decoder: TrainableDecoder, projector: TrainableProjector, imageTokenID: Int, featuresPerImage: Int) {
        self.decoder = decoder
        self.projector = projector
        self.imageTokenID = imageTokenID
        self.featuresPerImage = featuresPerImage
    }

    public var parameters: [Parameter] { projector.parameters + decoder.parameters }

    /// One position of the expanded sequence: a token id, or row `row` of image `image`.
    enum Position { case token(Int), image(Int, row: Int) }

    /// Expands image placeholders into feature positions, labels -100 over them.
    func expand(_ e: TrainingExample) throws -> (positions: [Position], labels: [Int]) {
        guard e.labels.count == e.inputIDs.count else {
            throw TrainingError.labelCountMismatch(ids: e.inputIDs.count, labels: e.labels.count)
        }
        var positions: [Position] = [], labels: [Int] = []
        var image = 0, i = 0
        while i < e.inputIDs.count {
            let id = e.inputIDs[i]
            if id == originalImagePlaceholder || id == imageTokenID {
                // A -200 placeholder takes all rows; an image-token run takes one row per token.
                let run = id == originalImagePlaceholder ? 1 : featuresPerImage
                guard image < e.imageFeatures.count else {
                    throw TrainingError.imageCountMismatch(placeholders: image + 1, images: e.imageFeatures.count)
                }
                for row in 0..<featuresPerImage { positions.append(.image(image, row: row)); labels.append(ignoreIndex) }
                image += 1
                i += run
                continue
            }
            positions.append(.token(id))
            labels.append(e.labels[i])
            i += 1
        }
        guard image == e.imageFeatures.count else {
            throw TrainingError.imageCountMismatch(placeholders: image, images: e.imageFeatures.count)
        }
        return (positions, labels)
    }

    /// Positions whose next token is learned, over a batch (the loss's denominator).
    public func countTargets(_ batch: [TrainingExample]) throws -> Int {
        try batch.reduce(0) { n, e in
            let l = try expand(e).labels
            return n + l.dropFirst().filter { $0 != ignoreIndex }.count
        }
    }

    /// Positions the decoder runs over a batch, each image expanded to its feature rows.
    public func countPositions(_ batch: [TrainingExample]) throws -> Int {
        try batch.reduce(0) { n, e in n + (try expand(e).positions.count) }
    }

    /// Forward and backward of `batch`: returns the summed token loss; gradients accumulate,
    /// scaled by 1/`normalizer` (the number of learned tokens in the whole optimizer step).
    ///
    /// The sequences run packed, up to `maxRowsPerPass` positions at a time, so each Linear
    /// is one GEMM over all their tokens. `firstIndex` is the batch's first sequence within
    /// the global batch (a data-parallel rank's shard): LoRA dropout masks follow a sequence's
    /// place in the global batch, not the rank that runs it.
    ///
    /// With `Compute.threads` above 1 (and `shardsAcrossThreads`), the batch is split into
    /// contiguous shards balanced by rows, one per thread, each run single-threaded by a
    /// replica of this model (shared weights, own activations and gradients; `ShardReplicas`);
    /// the replicas' gradients are then added to this model's in shard order, so a given thread
    /// count always gives the same result (equal to one thread's up to float rounding).
    public func accumulate(_ batch: [TrainingExample], normalizer: Int, firstIndex: Int = 0) throws -> Double {
        let expanded = try batch.map(expand)
        let seeds = decoder.dropoutSeeds(count: batch.count, first: firstIndex)
        let scale = 1 / Float(max(1, normalizer))
        let parts = shardsAcrossThreads ? min(Compute.threads, batch.count) : 1
        guard parts > 1 else { return try accumulatePasses(batch[...], expanded[...], seeds: seeds[...], scale: scale) }
        let shards = balancedShards(rows: expanded.map { $0.positions.count }, parts: parts)
        replicas.reserve(shards.count)
        var losses = [Double](repeating: 0, count: shards.count)
        try losses.withUnsafeMutableBufferPointer { loss in
            try runShards(shards.count) { k in
                let model = k == 0 ? self : replicas.replicas[k - 1]
                if k > 0 { model.mirrorSettings(of: self) }
                let r = shards[k]
                loss[k] = try model.accumulatePasses(batch[r], expanded[r], seeds: seeds[r], scale: scale)
            }
        }
        replicas.reduceGradients(shards: shards.count)
        return losses.reduce(0, +)
    }

    /// Split a batch over the threads (see `accumulate`); off, one thread's work runs through
    /// the kernels' own threading instead.
    public var shardsAcrossThreads = true

    private lazy var replicas = ShardReplicas(of: self, parameters: \.parameters) { [unowned self] in
        LLaVATrainingModel(decoder: TrainableDecoder(replicaOf: decoder), projector: TrainableProjector(replicaOf: projector),
                           imageTokenID: imageTokenID, featuresPerImage: featuresPerImage)
    }

    private func mirrorSettings(of o: LLaVATrainingModel) {
        maxRowsPerPass = o.maxRowsPerPass
        decoder.gradientCheckpointing = o.decoder.gradientCheckpointing
    }

    /// Sequences in packed passes of up to `maxRowsPerPass` rows.
    private func accumulatePasses(_ batch: ArraySlice<TrainingExample>,
                                  _ expanded: ArraySlice<(positions: [Position], labels: [Int])>,
                                  seeds: ArraySlice<UInt64>, scale: Float) throws -> Double {
        var lossSum = 0.0, i = batch.startIndex
        while i < batch.endIndex {
            var j = i + 1, rows = expanded[i].positions.count
            while j < batch.endIndex && rows + expanded[j].positions.count <= maxRowsPerPass {
                rows += expanded[j].positions.count
                j += 1
            }
            lossSum += try accumulatePacked(batch[i..<j], expanded[i..<j], seeds: Array(seeds[i..<j]), scale: scale)
            i = j
        }
        return lossSum
    }

    /// One packed pass: projector over all images, decoder over all sequences, loss, backward.
    private func accumulatePacked(_ batch: ArraySlice<TrainingExample>, _ expanded: ArraySlice<(positions: [Position], labels: [Int])>,
                                  seeds: [UInt64], scale: Float) throws -> Double {
        let d = decoder.config.hiddenSize, p = featuresPerImage
        let rows = expanded.reduce(0) { $0 + $1.positions.count }
        let images = batch.reduce(0) { $0 + $1.imageFeatures.count }
        let projected = try projectImages(batch, count: images)
        let inputs = scratch.inputs.reserve(rows * d)
        tokenIDs.removeAll(keepingCapacity: true)
        targets.removeAll(keepingCapacity: true)
        var image0 = 0
        for (e, (positions, labels)) in zip(batch, expanded) {
            for (k, position) in positions.enumerated() {
                switch position {
                case .token(let id):
                    tokenIDs.append(id)
                case .image(let image, let row):
                    (inputs + tokenIDs.count * d).update(from: projected! + ((image0 + image) * p + row) * d, count: d)
                    tokenIDs.append(-1)
                }
                // Next-token targets: position k predicts label k + 1; a sequence's last predicts nothing.
                targets.append(Int32(k + 1 < labels.count ? labels[k + 1] : ignoreIndex))
            }
            image0 += e.imageFeatures.count
        }
        decoder.embed(tokenIDs, into: inputs)
        decoder.forward(inputs: inputs, lengths: expanded.map { $0.positions.count }, dropoutSeeds: seeds)
        let dInputs = scratch.dInputs.reserve(rows * d)
        dInputs.update(repeating: 0, count: rows * d)
        let (loss, _) = targets.withUnsafeBufferPointer { decoder.lossBackward(targets: $0.baseAddress!, scale: scale, dInputs: dInputs) }
        decoder.embedBackward(tokenIDs, dInputs: dInputs)
        guard images > 0 else { return loss }
        // The projector's output gradient: the rows of dInputs at image positions, in image order.
        let dOut = scratch.dProjected.reserve(images * p * d)
        var row = 0
        image0 = 0
        for (e, (positions, _)) in zip(batch, expanded) {
            for position in positions {
                if case .image(let image, let k) = position {
                    (dOut + ((image0 + image) * p + k) * d).update(from: dInputs + row * d, count: d)
                }
                row += 1
            }
            image0 += e.imageFeatures.count
        }
        projector.backward(dOut: dOut, rows: images * p)
        return loss
    }

    /// Every image's features of the pass through the projector at once: (images × P, D).
    private func projectImages(_ batch: ArraySlice<TrainingExample>, count images: Int) throws -> UnsafePointer<Float>? {
        guard images > 0 else { return nil }
        let w = projector.inputWidth, n = featuresPerImage * w
        let features = scratch.features.reserve(images * n)
        var k = 0
        for e in batch {
            for f in e.imageFeatures {
                guard f.count == n else { throw TrainingError.featureShape(expected: n, found: f.count) }
                f.withUnsafeBufferPointer { (features + k * n).update(from: $0.baseAddress!, count: n) }
                k += 1
            }
        }
        return projector.forward(features, rows: images * featuresPerImage)
    }
}

/// The packed pass's buffers, grown to the largest pass and reused.
final class PackedPassScratch {
    let inputs = ScratchBuffer(), dInputs = ScratchBuffer()      // (R, D)
    let features = ScratchBuffer()                              // (images × P, W)
    let dProjected = ScratchBuffer()                            // (images × P, D)
}

/// Training failures, each naming what it concerns.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case imageCountMismatch(placeholders: Int, images: Int)
    case featureShape(expected: Int, found: Int)
    case labelCountMismatch(ids: Int, labels: Int)
    case invalidArgument(String)
    case missingFile(String)

    public var description: String {
        switch self {
        case .imageCountMismatch(let p, let i): return "the sample has \(p) image placeholder(s) but \(i) image(s)"
        case .featureShape(let e, let f): return "image features have \(f) values, expected \(e)"
        case .labelCountMismatch(let i, let l): return "a training sample has \(i) input ids but \(l) labels"
        case .invalidArgument(let s): return s
        case .missingFile(let path): return "\(path): file not found"
        }
    }
}
