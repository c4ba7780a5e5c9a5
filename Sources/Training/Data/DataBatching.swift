import Foundation
import Tensor
import Tokenizer

/// Which samples go into each step, and how a step's samples become one padded batch.
///
/// Shapes: B = samples in the batch, T = the longest sample's length.

// MARK: - sampling

/// Seeded, resumable order of training samples: epoch after epoch, each shuffled with its own
/// stream (`SplitMix64(seed: seed + epoch)`), cut into batches of `batchSize`.
///
/// With `groupByModality` it follows the reference's `get_modality_length_grouped_indices`
/// (world size 1): image samples and text-only samples are each shuffled and cut into
/// batches, each batch ordered longest first; all full batches of both kinds are shuffled
/// together, and each kind's last batch comes at the end of the epoch. Unlike the reference,
/// which merges those two leftovers into one (possibly mixed) batch, they stay apart, so no
/// batch mixes images and text. Without it, the order is a plain shuffle (the HF trainer's
/// random sampler).
///
/// `lengthGroup` (> 1) pads less: the shuffled samples are taken `lengthGroup` batches at a
/// time, sorted by length and cut into batches, so a batch holds samples of about one length;
/// those batches are then shuffled (a short last batch stays last). This is the reference's
/// grouping at world size `lengthGroup`, where each rank's batch comes from one sorted
/// megabatch. At 1 (the default) the order is exactly as without it.
///
/// `dropLast` drops every batch smaller than `batchSize` (with grouping, up to one per kind).
/// The sampler is Codable: encode it with the checkpoint and decode it to continue with
/// exactly the batches that would have come next.
///
/// ```swift
/// var sampler = BatchSampler(lengths: records.map(\.wordCount), isMultimodal: records.map(\.hasImage),
///                            batchSize: 16, seed: 42, groupByModality: true)
/// for _ in 0..<sampler.stepsPerEpoch {
///     let indices = sampler.nextBatch()    // into `records`
/// }
/// ```
public struct BatchSampler: Codable, Equatable {
    /// Where a sampler is in its stream; together with the data it fixes every future batch.
    public struct State: Codable, Equatable, Sendable {
        public var seed: UInt64
        public var epoch: Int
        /// The next batch's number within the epoch.
        public var position: Int
        /// The sampler's shape when the state was saved (nil in checkpoints written before these
        /// were kept): a state resumes exactly only into a sampler of the same shape.
        public var batchSize: Int? = nil
        public var lengthGroup: Int? = nil
        public var stepsPerEpoch: Int? = nil
    }

    /// Per sample: the length batches are ordered by (longest first).
    public let lengths: [Int]
    public let isMultimodal: [Bool]
    public let batchSize: Int
    public private(set) var seed: UInt64
    public let groupByModality: Bool
    /// Batches per length-sorted group; 1 = no length grouping.
    public let lengthGroup: Int
    public let dropLast: Bool
    public private(set) var epoch = 0
    public private(set) var position = 0

    /// The current epoch's batches, rebuilt on demand (not encoded).
    private var cachedEpoch = -1
    private var cachedBatches: [[Int]] = []

    private enum CodingKeys: String, CodingKey {
        case lengths, isMultimodal, batchSize, seed, groupByModality, lengthGroup, dropLast, epoch, position
    }

    public init(lengths: [Int], isMultimodal: [Bool], batchSize: Int, seed: UInt64, groupByModality: Bool,
                lengthGroup: Int = 1, dropLast: Bool = false) {
        precondition(batchSize > 0, "batchSize must be positive, got \(batchSize)")
        precondition(lengthGroup > 0, "lengthGroup must be positive, got \(lengthGroup)")
        precondition(lengths.count == isMultimodal.count,
                     "\(lengths.count) lengths but \(isMultimodal.count) modality flags")
        self.lengths = lengths
        self.isMultimodal = isMultimodal
        self.batchSize = batchSize
        self.seed = seed
        self.groupByModality = groupByModality
        self.lengthGroup = lengthGroup
        self.dropLast = dropLast
        precondition(stepsPerEpoch > 0, "\(lengths.count) samples give no batch of \(batchSize) (dropLast \(dropLast))")
    }

    public var state: State {
        State(seed: seed, epoch: epoch, position: position, batchSize: batchSize, lengthGroup: lengthGroup,
              stepsPerEpoch: stepsPerEpoch)
    }

    /// Why a saved state does not continue this sampler's stream.
    public enum StateMismatch: Error, Equatable {
        case batchSize(saved: Int, current: Int)
        case lengthGroup(saved: Int, current: Int)
        /// Another data set (or drop-last setting): another number of batches per epoch.
        case stepsPerEpoch(saved: Int, current: Int)
        /// A next batch outside this sampler's epoch (a state saved without its shape).
        case position(epoch: Int, position: Int, stepsPerEpoch: Int)
    }

    /// Continues from `state`, which must come from a sampler of this shape: the same batch size,
    /// length grouping and batches per epoch (each checked where the state keeps it; a state
    /// saved before they were kept is checked by its position alone).
    public mutating func restore(_ state: State) throws(StateMismatch) {
        if let saved = state.batchSize, saved != batchSize { throw .batchSize(saved: saved, current: batchSize) }
        if let saved = state.lengthGroup, saved != lengthGroup { throw .lengthGroup(saved: saved, current: lengthGroup) }
        let steps = stepsPerEpoch
        if let saved = state.stepsPerEpoch, saved != steps { throw .stepsPerEpoch(saved: saved, current: steps) }
        guard state.epoch >= 0, (0..<steps).contains(state.position) else {
            throw .position(epoch: state.epoch, position: state.position, stepsPerEpoch: steps)
        }
        seed = state.seed
        epoch = state.epoch
        position = state.position
        cachedEpoch = -1
    }

    public var stepsPerEpoch: Int {
        let images = isMultimodal.filter { $0 }.count
        let kinds = groupByModality ? [images, lengths.count - images] : [lengths.count]
        return kinds.reduce(0) { $0 + (dropLast ? $1 / batchSize : ($1 + batchSize - 1) / batchSize) }
    }

    /// The next batch's sample indices; after an epoch's last batch, the next epoch begins.
    public mutating func nextBatch() -> [Int] {
        if cachedEpoch != epoch {
            cachedBatches = batches(forEpoch: epoch)
            cachedEpoch = epoch
        }
        let batch = cachedBatches[position]
        position += 1
        if position == cachedBatches.count {
            epoch += 1
            position = 0
        }
        return batch
    }

    /// All batches of `epoch`, in order (a pure function of the data, seed and epoch).
    public func batches(forEpoch epoch: Int) -> [[Int]] {
        var rng = SplitMix64(seed: seed &+ UInt64(epoch))
        var batches: [[Int]]
        let images = lengths.indices.filter { isMultimodal[$0] }
        let texts = lengths.indices.filter { !isMultimodal[$0] }
        if !groupByModality {
            batches = shuffledBatches(Array(lengths.indices), &rng)
        } else if images.isEmpty || texts.isEmpty {
            batches = lengthGrouped(Array(lengths.indices), &rng)
        } else {
            var imageBatches = lengthGrouped(images, &rng), textBatches = lengthGrouped(texts, &rng)
            let lastImages = imageBatches.removeLast(), lastTexts = textBatches.removeLast()
            batches = Self.shuffled(imageBatches + textBatches, &rng) + [lastImages, lastTexts]
        }
        return dropLast ? batches.filter { $0.count == batchSize } : batches
    }

    /// `get_length_grouped_indices`: shuffle, cut into batches, each ordered longest first.
    private func lengthGrouped(_ indices: [Int], _ rng: inout SplitMix64) -> [[Int]] {
        shuffledBatches(indices, &rng).map(longestFirst)
    }

    /// The indices shuffled and cut into batches; with `lengthGroup` > 1, each run of
    /// `lengthGroup` batches sorted by length first, and the batches shuffled after.
    private func shuffledBatches(_ indices: [Int], _ rng: inout SplitMix64) -> [[Int]] {
        let order = Self.shuffled(indices, &rng)
        guard lengthGroup > 1 else { return chunks(order) }
        let group = lengthGroup * batchSize
        var batches = stride(from: 0, to: order.count, by: group).flatMap { start in
            chunks(longestFirst(Array(order[start..<min(start + group, order.count)])))
        }
        let short = batches.count > 1 && batches[batches.count - 1].count < batchSize ? batches.removeLast() : nil
        batches = Self.shuffled(batches, &rng)
        if let short { batches.append(short) }
        return batches
    }

    /// Longest first; ties keep their order, as Python's stable sort does.
    private func longestFirst(_ indices: [Int]) -> [Int] {
        indices.enumerated()
            .sorted { a, b in lengths[a.element] != lengths[b.element] ? lengths[a.element] > lengths[b.element] : a.offset < b.offset }
            .map(\.element)
    }

    private func chunks(_ indices: [Int]) -> [[Int]] {
        stride(from: 0, to: indices.count, by: batchSize).map { Array(indices[$0..<min($0 + batchSize, indices.count)]) }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.lengths == b.lengths && a.isMultimodal == b.isMultimodal && a.batchSize == b.batchSize
            && a.groupByModality == b.groupByModality && a.lengthGroup == b.lengthGroup && a.dropLast == b.dropLast && a.state == b.state
    }
}

extension BatchSampler {
    /// Fisher–Yates with an unbiased bounded draw, so the order depends only on the generator's
    /// stream (not on the standard library's `random(in:)` algorithm).
    static func shuffled<T>(_ items: [T], _ rng: inout SplitMix64) -> [T] {
        var a = items
        var i = a.count - 1
        while i > 0 {
            a.swapAt(i, Int(uniformBelow(UInt64(i + 1), &rng)))
            i -= 1
        }
        return a
    }

    /// Uniform in 0..<bound by rejection: draws below 2^64 mod bound would favour small values.
    static func uniformBelow(_ bound: UInt64, _ rng: inout SplitMix64) -> UInt64 {
        let threshold = (0 &- bound) % bound
        while true {
            let r = rng.next()
            if r >= threshold { return r % bound }
        }
    }
}

// MARK: - collation

/// A step's samples padded on the right to the longest (the reference's collator).
///
/// ```swift
/// let batch = DataBatch(samples: indices.map { samples[$0] }, padID: DataBatch.padID(for: tokenizer))
/// batch.inputIDs[b * batch.length + t]    // (B, T) row-major
/// ```
public struct DataBatch: Equatable, Sendable {
    public let sampleIDs: [String]
    /// B.
    public let batchSize: Int
    /// T: the longest sample's length (after the optional cut).
    public let length: Int
    /// (B, T) row-major; padding is `padID`.
    public let inputIDs: [Int]
    /// (B, T) row-major; padding is -100.
    public let labels: [Int]
    /// (B): positions of each row that are real tokens (the rest is padding).
    public let attentionLengths: [Int]
    /// (B): each sample's image, nil for text-only samples.
    public let imagePaths: [String?]

    /// - Parameter maxLength: cuts every row to this many positions, as the reference's
    ///   collator does with the model max length.
    public init(samples: [TrainingSample], padID: Int, maxLength: Int? = nil) {
        let lengths = samples.map { min($0.inputIDs.count, maxLength ?? Int.max) }
        let t = lengths.max() ?? 0
        var ids = [Int](repeating: padID, count: samples.count * t)
        var targets = [Int](repeating: TrainingSample.ignoreIndex, count: samples.count * t)
        for (b, s) in samples.enumerated() {
            for k in 0..<lengths[b] {
                ids[b * t + k] = s.inputIDs[k]
                targets[b * t + k] = s.labels[k]
            }
        }
        sampleIDs = samples.map(\.id)
        batchSize = samples.count
        length = t
        inputIDs = ids
        labels = targets
        attentionLengths = lengths
        imagePaths = samples.map(\.imagePath)
    }

    /// The id to pad with: the tokenizer's pad token, else its unknown token (what the
    /// reference sets for v1), else 0. Padding is never attended to nor learned.
    public static func padID(for tokenizer: Tokenizer) -> Int {
        tokenizer.padTokenID ?? tokenizer.unknownTokenID ?? 0
    }
}
