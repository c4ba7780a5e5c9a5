import Foundation

/// POPE (object hallucination): yes/no questions about COCO images in three files,
/// `coco_pope_{random,popular,adversarial}.json` (JSONL despite the name:
/// `{question_id, image, text, label}`). Asked with LLaVA-1.5's short-answer instruction;
/// scored as the reference's `eval_pope.py`.
public enum POPE {
    public static let categories = ["adversarial", "popular", "random"]

    public struct Question: Sendable, Equatable {
        public var category: String
        public var questionID: String
        public var image: String
        public var text: String
        public var label: String
    }

    /// The questions of every `coco_pope_<category>.json` in `folder` (categories in file-name order).
    public static func load(folder: URL) throws -> [Question] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasPrefix("coco_pope_") && $0.hasSuffix(".json") }.sorted()
        guard !names.isEmpty else { throw EvaluationError.missingFile(folder.appendingPathComponent("coco_pope_<category>.json").path) }
        var questions: [Question] = []
        for name in names {
            let url = folder.appendingPathComponent(name)
            let category = String(name.dropFirst("coco_pope_".count).dropLast(".json".count))
            for (line, o) in try BenchmarkFile.jsonLines(url) {
                let at = "line \(line)"
                let label = try BenchmarkFile.field(o, "label", in: url, at: at, as: String.self)
                guard label == "yes" || label == "no" else {
                    throw EvaluationError.badField(file: url.path, location: at, field: "label", reason: "expected \"yes\" or \"no\", found \"\(label)\"")
                }
                questions.append(Question(category: category, questionID: try BenchmarkFile.id(o, "question_id", in: url, at: at),
                                          image: try BenchmarkFile.field(o, "image", in: url, at: at),
                                          text: try BenchmarkFile.field(o, "text", in: url, at: at), label: label))
            }
        }
        return questions
    }

    public static func items(_ questions: [Question], imageFolder: URL) -> [BenchmarkItem] {
        questions.map { q in
            BenchmarkItem(id: "\(q.category)/\(q.questionID)", image: .file(imageFolder.appendingPathComponent(q.image)),
                          text: BenchmarkInstruction.append(BenchmarkInstruction.shortAnswer, to: q.text), metadata: ["category": q.category])
        }
    }

    /// LLaVA's reading of an answer: its first sentence (up to the first "."), commas removed,
    /// split on spaces; "No", "no" or "not" among the words means no, anything else yes.
    public static func isYes(_ answer: String) -> Bool {
        var text = answer
        if let dot = text.firstIndex(of: ".") { text = String(text[..<dot]) }
        let words = text.replacingOccurrences(of: ",", with: "").components(separatedBy: " ")
        return !(words.contains("No") || words.contains("not") || words.contains("no"))
    }

    public struct Scores: Codable, Sendable, Equatable {
        public var truePositives = 0, falsePositives = 0, trueNegatives = 0, falseNegatives = 0
        public var total: Int { truePositives + falsePositives + trueNegatives + falseNegatives }
        public var accuracy: Double { Double(truePositives + trueNegatives) / Double(max(1, total)) }
        public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
        public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
        public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
        public var yesRatio: Double { Double(truePositives + falsePositives) / Double(max(1, total)) }

        /// The reference divides by zero here (an exception); 0 keeps a report printable.
        private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }

        public mutating func add(predictedYes: Bool, labelYes: Bool) {
            switch (predictedYes, labelYes) {
            case (true, true): truePositives += 1
            case (true, false): falsePositives += 1
            case (false, false): trueNegatives += 1
            case (false, true): falseNegatives += 1
            }
        }
    }

    /// Scores per category; questions without an answer are an error (the reference zips
    /// answers with labels, so a missing one shifts every later label).
    public static func score(_ questions: [Question], answers: [String: EvaluationAnswer]) throws -> [String: Scores] {
        var out: [String: Scores] = [:]
        for q in questions {
            guard let a = answers["\(q.category)/\(q.questionID)"] else {
                throw EvaluationError.invalidArgument("POPE \(q.category) question \(q.questionID) has no answer")
            }
            out[q.category, default: Scores()].add(predictedYes: isYes(a.text), labelYes: q.label == "yes")
        }
        return out
    }

    /// Per category accuracy, precision, recall, F1 and yes-ratio (as percentages); the headline
    /// is the F1 averaged over the categories, the number LLaVA-1.5 reports.
    public static func result(_ scores: [String: Scores], model: String) -> BenchmarkResult {
        var metrics: [String: Double] = [:]
        var counts: [String: Int] = [:]
        for (c, s) in scores {
            metrics["\(c) accuracy"] = 100 * s.accuracy
            metrics["\(c) precision"] = 100 * s.precision
            metrics["\(c) recall"] = 100 * s.recall
            metrics["\(c) f1"] = 100 * s.f1
            metrics["\(c) yes ratio"] = 100 * s.yesRatio
            counts[c] = s.total
        }
        metrics["f1"] = 100 * scores.values.map(\.f1).reduce(0, +) / Double(max(1, scores.count))
        metrics["accuracy"] = 100 * scores.values.map(\.accuracy).reduce(0, +) / Double(max(1, scores.count))
        return BenchmarkResult(benchmark: "pope", model: model, headline: "f1", metrics: metrics, counts: counts)
    }
}
