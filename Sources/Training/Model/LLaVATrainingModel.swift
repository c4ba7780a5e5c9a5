import Foundation
import LLaVA
import Language
import Tensor

// Shape legend: T positions of one sequence, D LLM width, V vocabulary,
// P feature rows per image, W vision width.

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
    public func accumulate(_ batch: [TrainingExample], normalizer: Int) throws -> Double {
        var lossSum = 0.0
        for e in batch { lossSum += try accumulate(e, scale: 1 / Float(max(1, normalizer))) }
        return lossSum
    }

    private func accumulate(_ e: TrainingExample, scale: Float) throws -> Double {
        let (positions, labels) = try expand(e)
        let t = positions.count, d = decoder.config.hiddenSize, v = decoder.config.vocabularySize
        projector.reset()
        let projected = try e.imageFeatures.map { f -> [Float] in
            guard f.count == featuresPerImage * projector.inputWidth else {
                throw TrainingError.featureShape(expected: featuresPerImage * projector.inputWidth, found: f.count)
            }
            return projector.forward(f, rows: featuresPerImage)
        }
        var inputs = [Float](repeating: 0, count: t * d)
        var tokenIDs = [Int](repeating: -1, count: t)
        inputs.withUnsafeMutableBufferPointer { buf in
            for (p, position) in positions.enumerated() {
                switch position {
                case .token(let id):
                    tokenIDs[p] = id
                    decoder.embed([id], into: buf.baseAddress! + p * d)
                case .image(let k, let row):
                    projected[k].withUnsafeBufferPointer { (buf.baseAddress! + p * d).update(from: $0.baseAddress! + row * d, count: d) }
                }
            }
        }
        // Next-token targets: position p predicts label p + 1.
        var targets = [Int32](repeating: Int32(ignoreIndex), count: t)
        for p in 0..<(t - 1) { targets[p] = Int32(labels[p + 1]) }
        let logits = inputs.withUnsafeBufferPointer { decoder.forward(inputs: $0.baseAddress!, tokens: t) }
        var dLogits = [Float](repeating: 0, count: t * v)
        let (loss, _) = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v,
                                                    dLogits: &dLogits, scale: scale)
        var dInputs = [Float](repeating: 0, count: t * d)
        decoder.backward(dLogits: dLogits, dInputs: &dInputs)
        dInputs.withUnsafeBufferPointer { decoder.embedBackward(tokenIDs, dInputs: $0.baseAddress!) }
        for k in projected.indices {
            var dOut = [Float](repeating: 0, count: featuresPerImage * d)
            for (p, position) in positions.enumerated() {
                if case .image(k, let row) = position {
                    for i in 0..<d { dOut[row * d + i] = dInputs[p * d + i] }
                }
            }
            projector.backward(image: k, dOut: dOut, rows: featuresPerImage)
        }
        return loss
    }
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
