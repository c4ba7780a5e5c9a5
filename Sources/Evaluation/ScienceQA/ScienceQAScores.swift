import Foundation

/// The paper's ScienceQA table: accuracy by subject (NAT, SOC, LAN), context (TXT: has a hint,
/// IMG: has an image, NO: neither), grade (G1-6, G7-12) and over all problems, with the
/// categories as ScienceQA's `evaluate_acc.py` defines them.
public struct ScienceQATable: Codable, Sendable, Equatable {
    public struct Cell: Codable, Sendable, Equatable {
        public var correct = 0, total = 0
        public var accuracy: Double { percent(correct, total) }
    }

    public static let columns = ["NAT", "SOC", "LAN", "TXT", "IMG", "NO", "G1-6", "G7-12", "Avg"]
    public var cells: [String: Cell] = [:]

    public init() {}

    /// Columns a problem counts in.
    public static func columns(of p: ScienceQAProblem) -> [String] {
        var out: [String] = []
        switch p.subject {
        case "natural science": out.append("NAT")
        case "social science": out.append("SOC")
        case "language science": out.append("LAN")
        default: break
        }
        let hasText = !p.hint.isEmpty, hasImage = !(p.image ?? "").isEmpty
        if hasText { out.append("TXT") }
        if hasImage { out.append("IMG") }
        if !hasText && !hasImage { out.append("NO") }
        if let n = Int(p.grade.dropFirst("grade".count)), p.grade.hasPrefix("grade") {
            out.append(n <= 6 ? "G1-6" : "G7-12")
        }
        return out + ["Avg"]
    }

    public mutating func add(_ p: ScienceQAProblem, predicted index: Int) {
        for c in Self.columns(of: p) {
            cells[c, default: Cell()].total += 1
            if index == p.answer { cells[c, default: Cell()].correct += 1 }
        }
    }

    /// The paper's columns; "—" where no problem falls in one.
    public var markdown: String {
        "| " + Self.columns.joined(separator: " | ") + " |\n|" + Self.columns.map { _ in "---|" }.joined() + "\n| "
            + Self.columns.map { c in cells[c].map { String(format: "%.2f", $0.accuracy) } ?? "—" }.joined(separator: " | ") + " |"
    }

    public func result(model: String, benchmark: String = "scienceqa") -> BenchmarkResult {
        BenchmarkResult(benchmark: benchmark, model: model, headline: "IMG",
                        metrics: cells.mapValues(\.accuracy), counts: cells.mapValues(\.total))
    }
}

/// What `eval_science_qa.py --output-result` writes (the `results` map is what ScienceQA's
/// `evaluate_acc.py` reads): accuracy, counts, and each problem's predicted index (-1: none)
/// and raw output.
public struct ScienceQAResultFile: Codable, Sendable, Equatable {
    public var acc: Double
    public var correct: Int
    public var count: Int
    public var results: [String: Int]
    public var outputs: [String: String]
}

extension ScienceQA {
    /// Scores the model's answers (a missing one reads "FAILED", as the reference does).
    public static func score(_ problems: [ScienceQAProblem], answers: [String: String]) -> (table: ScienceQATable, file: ScienceQAResultFile) {
        var predictions: [String: Int] = [:]
        for p in problems {
            predictions[p.id] = choiceIndex(extractLetter(answers[p.id] ?? "FAILED"), choiceCount: p.choices.count)
        }
        return score(problems, predictions: predictions, outputs: answers)
    }

    /// Scores given choice indices (the judge ensemble's final picks).
    public static func score(_ problems: [ScienceQAProblem], predictions: [String: Int], outputs: [String: String]) -> (table: ScienceQATable, file: ScienceQAResultFile) {
        var table = ScienceQATable()
        var file = ScienceQAResultFile(acc: 0, correct: 0, count: problems.count, results: [:], outputs: [:])
        for p in problems {
            let index = predictions[p.id] ?? -1
            table.add(p, predicted: index)
            file.results[p.id] = index
            file.outputs[p.id] = outputs[p.id] ?? "FAILED"
            if index == p.answer { file.correct += 1 }
        }
        file.acc = percent(file.correct, file.count)
        return (table, file)
    }
}
