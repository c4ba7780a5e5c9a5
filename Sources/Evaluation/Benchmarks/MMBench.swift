import Foundation

/// MMBench from its TSV (`index, question, hint, A…D, answer, category, image` (base64), …):
/// the reference's `model_vqa_mmbench.py` prompt (hint, question, "A. option" lines, the
/// option-letter instruction) and circular evaluation: rows whose `index` agree modulo 10⁶ are
/// one question with its options shifted (the official TSVs ship those copies), and with
/// `rotate` every row is also asked once per option with the options rotated (the reference's
/// `--all-rounds`); a question counts only if every one of its asks is right.
public enum MMBench {
    static let letters = ["A", "B", "C", "D"]

    public struct Question: Sendable, Equatable {
        public var index: Int
        public var question: String
        public var hint: String?
        public var options: [String]
        public var answer: String?
        public var category: String?
        public var image: Data
        public var line: Int
    }

    /// The reference's `is_none`: missing, NaN, "nan" or "none" in any case.
    static func isNone(_ value: String?) -> Bool {
        guard let v = value?.trimmingCharacters(in: .whitespaces) else { return true }
        return v.isEmpty || v.lowercased() == "nan" || v.lowercased() == "none"
    }

    public static func load(_ url: URL) throws -> (table: TSVTable, questions: [Question]) {
        let table = try TSVTable(url: url)
        for needed in ["index", "question", "A", "B", "image"] where !table.columns.contains(needed) {
            throw EvaluationError.badField(file: url.path, location: "header", field: needed, reason: "missing column")
        }
        let questions = try table.rows.map { line, row -> Question in
            let at = "line \(line)"
            guard let index = Int(row["index"]!.trimmingCharacters(in: .whitespaces)) else {
                throw EvaluationError.badField(file: url.path, location: at, field: "index", reason: "expected an integer, found '\(row["index"]!)'")
            }
            guard let image = Data(base64Encoded: row["image"]!, options: .ignoreUnknownCharacters), !image.isEmpty else {
                throw EvaluationError.badField(file: url.path, location: at, field: "image", reason: "not base64")
            }
            var options: [String] = []
            for l in letters { if isNone(row[l]) { break }; options.append(row[l]!) }
            let answer = isNone(row["answer"]) ? nil : row["answer"]!.trimmingCharacters(in: .whitespaces)
            if let answer, !letters.prefix(options.count).contains(answer) {
                throw EvaluationError.badField(file: url.path, location: at, field: "answer", reason: "'\(answer)' is not one of the row's options \(letters.prefix(options.count).joined(separator: ", "))")
            }
            return Question(index: index, question: row["question"]!, hint: isNone(row["hint"]) ? nil : row["hint"],
                            options: options, answer: answer, category: row["category"], image: image, line: line)
        }
        return (table, questions)
    }

    /// The instruction of `model_vqa_mmbench.py --single-pred-prompt` for `--lang en` and `--lang cn` (MMBench-CN).
    public static let chineseOptionLetter = "请直接回答选项字母。"

    /// Hint, question, then "A. …" lines with the options in `options` order, then the
    /// instruction (English, or with `chinese` MMBench-CN's).
    public static func prompt(_ q: Question, options: [String], chinese: Bool = false) -> String {
        var text = q.hint.map { $0 + "\n" + q.question } ?? q.question
        for (l, o) in zip(letters, options) { text += "\n\(l). \(o)" }
        return BenchmarkInstruction.append(chinese ? chineseOptionLetter : BenchmarkInstruction.optionLetter, to: text)
    }

    /// One ask per row (round 0), or per option with `rotate`; the id is "index/round".
    public static func items(_ questions: [Question], rotate: Bool, source: String, chinese: Bool = false) -> [BenchmarkItem] {
        questions.flatMap { q in
            (0..<(rotate ? q.options.count : 1)).map { r in
                let rotated = Array(q.options[r...] + q.options[..<r])
                return BenchmarkItem(id: "\(q.index)/\(r)", image: .encoded(q.image, source: "\(source):\(q.line) image"),
                                     text: prompt(q, options: rotated, chinese: chinese), metadata: ["round_id": "\(r)", "index": "\(q.index)"])
            }
        }
    }

    /// The correct letter in round `round` (options rotated left by `round`).
    static func rotatedAnswer(_ answer: String, optionCount: Int, round: Int) -> String {
        let k = letters.firstIndex(of: answer)!
        return letters[((k - round) % optionCount + optionCount) % optionCount]
    }

    public static func result(_ s: Scores, model: String) -> BenchmarkResult {
        var metrics = ["circular accuracy": percent(s.circularCorrect, s.questions), "single-pass accuracy": percent(s.singleCorrect, s.asks)]
        for (c, v) in s.byCategory where !c.isEmpty { metrics["\(c) accuracy"] = percent(v[0], v[1]) }
        return BenchmarkResult(benchmark: "mmbench", model: model, headline: "circular accuracy", metrics: metrics,
                               counts: ["questions": s.questions, "asks": s.asks, "unmatched answers": s.unmatched,
                                        "matched by the judge": s.judgeMatched, "unmatched after the judge": s.judgeFailed,
                                        "questions failed without a judge": s.failedWithoutJudge])
    }
}
