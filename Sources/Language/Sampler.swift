import Foundation
import Tensor

/// How the next token is chosen from the logits.
///
/// The order of operations follows transformers' `generate`: repetition penalty,
/// then temperature, then top-k, then top-p. A temperature of 0 is greedy (argmax).
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float = 0
    public var topK: Int = 0                 // 0 keeps every token
    public var topP: Float = 1               // 1 keeps every token
    public var repetitionPenalty: Float = 1  // 1 is off; > 1 discourages repeats (CTRL paper's rule)
    public var seed: UInt64? = nil

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1,
                repetitionPenalty: Float = 1, seed: UInt64? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
    }

    public var isGreedy: Bool { temperature <= 0 }
}

/// A seeded sampler: the same seed, logits and history give the same tokens.
public struct Sampler {
    public let parameters: SamplingParameters
    private var rng: SplitMix64
    private var order: [Int] = []

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SplitMix64(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    /// Picks the next token. `logits` (V) is modified in place; `history` is every
    /// token of the sequence so far (prompt and generated), for the repetition penalty.
    public mutating func next(logits: inout [Float], history: [Int]) -> Int {
        let p = parameters
        if p.repetitionPenalty != 1 {
            // Each distinct earlier token once: positive logits divided, negative multiplied.
            for id in Set(history) where id >= 0 && id < logits.count {
                let l = logits[id]
                logits[id] = l > 0 ? l / p.repetitionPenalty : l * p.repetitionPenalty
            }
        }
        if p.isGreedy { return argmax(logits) }
        for i in logits.indices { logits[i] /= p.temperature }
        if order.count != logits.count { order = Array(logits.indices) }
        // Highest logit first; ties keep the lower id first, as a stable sort would.
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        var keep = p.topK > 0 ? min(p.topK, logits.count) : logits.count
        let top = logits[order[0]]
        var probs = [Float](repeating: 0, count: keep)
        var sum: Float = 0
        for j in 0..<keep {
            probs[j] = expf(logits[order[j]] - top)
            sum += probs[j]
        }
        if p.topP < 1 {
            // Smallest prefix whose probability mass reaches top_p (at least one token).
            var mass: Float = 0
            for j in 0..<keep {
                mass += probs[j] / sum
                if mass >= p.topP { keep = j + 1; break }
            }
            sum = probs[0..<keep].reduce(0, +)
        }
        var u = Float(rng.nextUnit()) * sum
        for j in 0..<keep {
            u -= probs[j]
            if u <= 0 { return order[j] }
        }
        return order[keep - 1]
    }
}

/// Index of the largest value; the first one on ties, as `torch.argmax`.
public func argmax(_ x: [Float]) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}
