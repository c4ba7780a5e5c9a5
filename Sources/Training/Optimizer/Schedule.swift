import Foundation

/// HF's `get_cosine_schedule_with_warmup` as the HF Trainer sets it up: a linear warmup from 0
/// over `ceil(warmupRatio × totalSteps)` steps, then a half cosine down to 0 at `totalSteps`.
///
/// `lr(atStep: k)` is the learning rate of the k-th optimizer step, counted from 0: `LambdaLR`
/// applies λ(0) when it is built and is stepped after each `optimizer.step()`, so step k uses
/// λ(k) — the very first step has lr 0 whenever there is warmup. (HF *logs* the lr after the
/// scheduler step, λ(k + 1).)
///
///     λ(k) = k / max(1, W)                                  k < W
///     λ(k) = max(0, ½(1 + cos(π · (k − W) / max(1, T − W))))   otherwise
///
/// ```swift
/// let schedule = LearningRateSchedule(baseLR: 2e-5, totalSteps: 5198, warmupRatio: 0.03)
/// schedule.warmupSteps     // 156
/// schedule.lr(atStep: 0)   // 0
/// ```
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public let baseLR: Float
    public let totalSteps: Int
    public let warmupSteps: Int

    /// Warmup of `ceil(warmupRatio × totalSteps)` steps (`TrainingArguments.get_warmup_steps`),
    /// computed on the decimal given, as Python does: 10 × 0.1 warms up 1 step, not 2.
    public init(baseLR: Float, totalSteps: Int, warmupRatio: Float) {
        precondition((0...1).contains(warmupRatio), "warmup ratio must be in [0, 1], found \(warmupRatio)")
        self.init(baseLR: baseLR, totalSteps: totalSteps,
                  warmupSteps: Int((Double(totalSteps) * decimalValue(warmupRatio)).rounded(.up)))
    }

    /// A fixed warmup length (HF's `warmup_steps`).
    public init(baseLR: Float, totalSteps: Int, warmupSteps: Int) {
        precondition(totalSteps >= 1, "total steps must be >= 1, found \(totalSteps)")
        precondition(warmupSteps >= 0, "warmup steps must be >= 0, found \(warmupSteps)")
        precondition(baseLR >= 0 && baseLR.isFinite, "learning rate must be finite and >= 0, found \(baseLR)")
        self.baseLR = baseLR
        self.totalSteps = totalSteps
        self.warmupSteps = warmupSteps
    }

    /// The multiplier λ(step) of the base learning rate, in double as HF computes it.
    public func factor(atStep step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
    }

    /// The learning rate of optimizer step `step` (0 = the first).
    public func lr(atStep step: Int) -> Float { Float(decimalValue(baseLR) * factor(atStep: step)) }
}
