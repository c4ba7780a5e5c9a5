import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one line a user watches during training, on stderr:
///
///     step 120/1000 | loss 2.3412 | lr 1.2e-04 | 3,456 tok/s | ETA 12m03s
///
/// On a terminal the line is redrawn in place (carriage return, clear to end of line) at every
/// step; into a file or pipe it is printed on its own line every `newlineEvery` steps (and at the
/// last step), so logs stay readable.
///
/// ```swift
/// var progress = ProgressLine(totalSteps: schedule.totalSteps, startStep: resumedStep)
/// progress.update(step: step + 1, loss: loss, lr: lr, tokensPerSecond: tps, elapsed: clock.seconds)
/// progress.finish()
/// ```
public struct ProgressLine {
    public let totalSteps: Int
    /// Steps already done when this run started (a resumed run), so the ETA uses this run's pace.
    public let startStep: Int
    public let isTerminal: Bool
    public let newlineEvery: Int
    private let output: (String) -> Void
    private var pendingLine = false

    public init(totalSteps: Int, startStep: Int = 0, isTerminal: Bool = isatty(STDERR_FILENO) != 0,
                newlineEvery: Int = 10, output: @escaping (String) -> Void = ProgressLine.writeToStandardError) {
        self.totalSteps = totalSteps
        self.startStep = startStep
        self.isTerminal = isTerminal
        self.newlineEvery = max(1, newlineEvery)
        self.output = output
    }

    /// Shows the state after `step` completed optimizer steps; `elapsed` is seconds since this
    /// run started.
    public mutating func update(step: Int, loss: Float, lr: Float, tokensPerSecond: Double, elapsed: Double) {
        let done = step - startStep
        let eta = done > 0 ? elapsed / Double(done) * Double(max(0, totalSteps - step)) : nil
        let line = Self.format(step: step, totalSteps: totalSteps, loss: loss, lr: lr,
                               tokensPerSecond: tokensPerSecond, eta: eta)
        if isTerminal {
            output("\r" + line + "\u{1B}[K")
            pendingLine = true
        } else if step % newlineEvery == 0 || step >= totalSteps {
            output(line + "\n")
        }
    }

    /// Ends the redrawn line so later output starts on a fresh one.
    public mutating func finish() {
        if pendingLine { output("\n") }
        pendingLine = false
    }

    /// `step 120/1000 | loss 2.3412 | lr 1.2e-04 | 3,456 tok/s | ETA 12m03s`.
    public static func format(step: Int, totalSteps: Int, loss: Float, lr: Float, tokensPerSecond: Double,
                              eta: Double?) -> String {
        let lossText = loss.isFinite ? String(format: "%.4f", Double(loss)) : "\(loss)"
        return "step \(step)/\(totalSteps) | loss \(lossText) | lr \(String(format: "%.1e", Double(lr)))"
            + " | \(groupedThousands(tokensPerSecond)) tok/s | ETA \(eta.map(duration) ?? "--")"
    }

    /// 3456.2 → "3,456".
    static func groupedThousands(_ x: Double) -> String {
        guard x.isFinite else { return "--" }
        var digits = String(Int(x.rounded()))
        var groups: [Substring] = []
        let negative = digits.hasPrefix("-")
        if negative { digits.removeFirst() }
        while digits.count > 3 {
            groups.insert(digits.suffix(3), at: 0)
            digits.removeLast(3)
        }
        groups.insert(Substring(digits), at: 0)
        return (negative ? "-" : "") + groups.joined(separator: ",")
    }

    /// 45 → "45s", 723 → "12m03s", 7384 → "2h03m", 200000 → "2d07h".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--" }
        let s = Int(seconds.rounded())
        switch s {
        case ..<60: return "\(s)s"
        case ..<3600: return String(format: "%dm%02ds", s / 60, s % 60)
        case ..<86400: return String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
        default: return String(format: "%dd%02dh", s / 86400, s % 86400 / 3600)
        }
    }

    public static func writeToStandardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
