import Checkpoint
import Foundation

/// One optimizer step as logged: a line of `metrics.jsonl`.
///
///     {"step":120,"loss":2.3412,"lr":0.00012,"grad_norm":0.87,"positions":70144,"tokens":6150,"tokens_per_second":3456.1,"elapsed":203.4}
///
/// `positions` counts the sequence positions the decoder ran in the step, each image expanded
/// to its feature rows; `tokens` counts the step's supervised tokens (labels not ignored: the
/// loss's normaliser); `tokens_per_second` is the rate of `positions`, the work done.
/// `elapsed` is seconds since the run started. CLIP training counts image-text pairs in
/// `positions`, `tokens` and the rate. Logs written before `positions` existed read it as 0.
/// A non-finite number is written as `null` (JSON has no NaN) and read back as NaN.
public struct MetricsRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Float
    public var lr: Float
    public var gradNorm: Float
    public var positions: Int
    public var tokens: Int
    /// Positions processed per second in the step.
    public var tokensPerSecond: Double
    public var elapsed: Double

    public init(step: Int, loss: Float, lr: Float, gradNorm: Float, positions: Int, tokens: Int,
                tokensPerSecond: Double, elapsed: Double) {
        self.step = step
        self.loss = loss
        self.lr = lr
        self.gradNorm = gradNorm
        self.positions = positions
        self.tokens = tokens
        self.tokensPerSecond = tokensPerSecond
        self.elapsed = elapsed
    }

    enum CodingKeys: String, CodingKey {
        case step, loss, lr, positions, tokens, elapsed
        case gradNorm = "grad_norm"
        case tokensPerSecond = "tokens_per_second"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        step = try c.decode(Int.self, forKey: .step)
        loss = try c.decodeIfPresent(Float.self, forKey: .loss) ?? .nan
        lr = try c.decodeIfPresent(Float.self, forKey: .lr) ?? .nan
        gradNorm = try c.decodeIfPresent(Float.self, forKey: .gradNorm) ?? .nan
        positions = try c.decodeIfPresent(Int.self, forKey: .positions) ?? 0
        tokens = try c.decodeIfPresent(Int.self, forKey: .tokens) ?? 0
        tokensPerSecond = try c.decodeIfPresent(Double.self, forKey: .tokensPerSecond) ?? .nan
        elapsed = try c.decodeIfPresent(Double.self, forKey: .elapsed) ?? .nan
    }

    /// The JSON line, keys in a fixed order, no trailing newline.
    public var jsonLine: String {
        func number<T: BinaryFloatingPoint & LosslessStringConvertible>(_ x: T) -> String { x.isFinite ? "\(x)" : "null" }
        return "{\"step\":\(step),\"loss\":\(number(loss)),\"lr\":\(number(lr)),\"grad_norm\":\(number(gradNorm)),"
            + "\"positions\":\(positions),\"tokens\":\(tokens),\"tokens_per_second\":\(number(tokensPerSecond)),\"elapsed\":\(number(elapsed))}"
    }
}

/// Appends one JSON object per optimizer step to a JSONL file (`metrics.jsonl`).
///
/// Each line goes out in a single unbuffered `write` on an `O_APPEND` descriptor, so killing the
/// run loses at most the line being written; ``read(_:)`` skips such a torn last line.
///
/// ```swift
/// let log = try MetricsLog(url: out.appendingPathComponent("metrics.jsonl"), keepingStepsThrough: resumedStep)
/// try log.append(MetricsRecord(step: 1, loss: 2.31, lr: 1e-3, gradNorm: 0.9, positions: 4096, tokens: 512,
///                              tokensPerSecond: 3456, elapsed: 1.2))
/// ```
public final class MetricsLog {
    public let url: URL
    private let sink: AtomicFile.Sink

    /// Opens the log. `keepingStepsThrough: nil` starts a new, empty log; a step number resumes
    /// one, keeping only the records up to that step (the ones after the checkpoint being
    /// resumed from are about to be redone).
    public init(url: URL, keepingStepsThrough resumedStep: Int? = nil) throws {
        self.url = url
        let kept = resumedStep.map { step in ((try? Self.read(url)) ?? []).filter { $0.step <= step } } ?? []
        let text = kept.map { $0.jsonLine + "\n" }.joined()
        try AtomicFile.write(Data(text.utf8), to: url)
        sink = try AtomicFile.Sink.appending(to: url)
    }

    /// Writes `record` as one line, immediately.
    public func append(_ record: MetricsRecord) throws {
        try sink.write(Array((record.jsonLine + "\n").utf8))
    }

    /// Every complete record of a log. A last line without its newline (a write cut short)
    /// is dropped; any other line that does not parse is an error naming its line number.
    public static func read(_ url: URL) throws -> [MetricsRecord] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingStateError.missingFile(file: url.path)
        }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // empty after the final newline, or a line cut short
        let decoder = JSONDecoder()
        return try lines.enumerated().compactMap { index, line in
            if line.allSatisfy(\.isWhitespace) { return nil }
            do {
                return try decoder.decode(MetricsRecord.self, from: Data(line.utf8))
            } catch {
                throw TrainingStateError.invalidJSON(file: "\(url.path):\(index + 1)", reason: "\(error)")
            }
        }
    }
}
