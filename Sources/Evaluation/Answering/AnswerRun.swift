import Foundation
import Logging

/// The one answering loop every benchmark uses, as the reference's `model_vqa*` scripts do:
/// greedy answers to each item, written to the answers file as they come, several items in
/// flight at once, progress with an ETA in the log; a run that finds answers already in the
/// file asks only the rest. At the end the file is rewritten in item order, so order-reading
/// scripts of the reference (POPE's labels, LLaVA-Bench's review) line up.
public struct AnswerRun {
    public var answersFile: AnswersFile?
    public var logger: Logger
    /// Seconds between two progress lines.
    public var progressInterval: Double = 5
    public var maxImagePixels = 64_000_000

    public init(answersFile: URL?, logger: Logger = Logger(label: "llava.eval")) {
        self.answersFile = answersFile.map(AnswersFile.init)
        self.logger = logger
    }

    /// Answers every item not answered yet; returns all answers by item id. `answerer` is
    /// called only when something is left to answer (so a complete file needs no model).
    /// The file is rewritten to hold the items' answers, then those of `later` (ids of items a
    /// later run will ask, such as a conversation's next turns) that it already held.
    public func run(_ items: [BenchmarkItem], keeping later: Set<String> = [],
                    answerer makeAnswerer: () throws -> Answerer) async throws -> [String: EvaluationAnswer] {
        var seen = Set<String>()
        for item in items where !seen.insert(item.id).inserted {
            throw EvaluationError.invalidArgument("two questions share the id '\(item.id)'; answers are keyed by id")
        }
        var done: [String: EvaluationAnswer] = [:], kept: [String: EvaluationAnswer] = [:]
        var keptOrder: [String] = []
        for a in try answersFile?.load(logger: logger) ?? [] {
            if seen.contains(a.questionID) {
                done[a.questionID] = a
            } else if later.contains(a.questionID) {
                if kept.updateValue(a, forKey: a.questionID) == nil { keptOrder.append(a.questionID) }
            }
        }
        let keep = { (items.compactMap { done[$0.id] } + keptOrder.compactMap { kept[$0] }) }
        let remaining = items.filter { done[$0.id] == nil }
        if !done.isEmpty { logger.info("resuming: \(done.count) of \(items.count) questions already answered") }
        if !remaining.isEmpty {
            let answerer = try makeAnswerer()
            // Rewrite what is kept (drops a cut-off line), then append.
            try answersFile?.write(keep())
            let handle = try answersFile?.appender()
            defer { try? handle?.close() }
            var progress = ProgressLog(total: remaining.count, logger: logger, interval: progressInterval)
            let (pixels, logger) = (maxImagePixels, self.logger)
            try await forEachConcurrently(remaining, limit: answerer.parallel, work: { item in
                var (text, metadata) = ("", item.metadata)
                do {
                    text = try await answerer.answer(item.text, image: try item.decodeImage(maxPixels: pixels), history: item.history)
                } catch let overlong as OverlongQuestion {
                    logger.warning("question \(item.id): \(overlong.reason); recorded with an empty answer")
                    metadata[EvaluationAnswer.overlongKey] = overlong.reason
                }
                return EvaluationAnswer(questionID: item.id, prompt: item.recordedPrompt ?? item.text, text: text, answerID: UUID().uuidString,
                                        modelID: answerer.modelID, metadata: metadata)
            }, record: { answer in
                done[answer.questionID] = answer
                if let handle { try JSONLines.append(answer, to: handle) }
                progress.step()
            })
            progress.finish()
        }
        try answersFile?.write(keep())
        let overlong = done.values.filter(\.isOverlong).count
        if overlong > 0 { logger.warning("\(overlong) of \(items.count) questions did not fit the context: answered empty, scored as wrong") }
        return done
    }
}

/// "answered N/M, R/s, ETA S" lines through swift-log, at most one per interval.
struct ProgressLog {
    let total: Int
    let logger: Logger
    let interval: Double
    let start = Date()
    var last = Date()
    var count = 0

    init(total: Int, logger: Logger, interval: Double) {
        self.total = total
        self.logger = logger
        self.interval = interval
    }

    mutating func step() {
        count += 1
        let now = Date()
        guard now.timeIntervalSince(last) >= interval || count == total else { return }
        last = now
        let rate = Double(count) / max(now.timeIntervalSince(start), 1e-9)
        let eta = Double(total - count) / max(rate, 1e-9)
        logger.info("answered \(count)/\(total)", metadata: [
            "rate": "\(String(format: "%.2f/s", rate))", "eta": "\(String(format: "%.0fs", eta))"])
    }

    func finish() {
        logger.info("answered \(count) questions in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }
}
