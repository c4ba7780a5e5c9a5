import Foundation
import Logging

/// One line of the reviews file, in the reference's form (`summarize_gpt_review.py` reads it);
/// `attempts` says how many judge replies it took, and `tuple` is [-1, -1] when none was readable.
public struct LLaVABenchReview: Codable, Sendable, Equatable {
    public var id: Int
    public var questionID: String
    public var answer1ID: String
    public var answer2ID: String
    public var category: String
    public var content: String
    public var tuple: [Double]
    public var attempts: Int

    enum CodingKeys: String, CodingKey {
        case id, questionID = "question_id", answer1ID = "answer1_id", answer2ID = "answer2_id", category, content, tuple, attempts
    }

    public var isParsed: Bool { tuple != [-1, -1] }

    public init(id: Int, questionID: String, answer1ID: String, answer2ID: String, category: String, content: String, tuple: [Double], attempts: Int) {
        self.id = id; self.questionID = questionID; self.answer1ID = answer1ID; self.answer2ID = answer2ID
        self.category = category; self.content = content; self.tuple = tuple; self.attempts = attempts
    }

    /// Reads the reference's review files too (integer ids, no `attempts`).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(Int.self, forKey: .id) ?? 0
        questionID = try c.decodeID(forKey: .questionID)
        answer1ID = (try? c.decodeID(forKey: .answer1ID)) ?? ""
        answer2ID = (try? c.decodeID(forKey: .answer2ID)) ?? ""
        category = try c.decode(String.self, forKey: .category)
        content = try c.decodeIfPresent(String.self, forKey: .content) ?? ""
        tuple = try c.decode([Double].self, forKey: .tuple)
        guard tuple.count == 2 else {
            throw DecodingError.dataCorruptedError(forKey: .tuple, in: c, debugDescription: "expected two scores, found \(tuple.count)")
        }
        attempts = try c.decodeIfPresent(Int.self, forKey: .attempts) ?? 1
    }
}

/// Asks the judge for every review not yet in the reviews file, retrying a reply whose first
/// line does not hold two scores up to `attempts` times in all; appends each review as it
/// comes, so a killed run resumes where it stopped.
public struct LLaVABenchReviewer {
    public let judge: JudgeLLM
    public var attempts = 3
    public var parallel = 4
    public var rules = LLaVABenchRule.builtIn
    public var logger = Logger(label: "llava.eval.llava-bench")

    public init(judge: JudgeLLM) { self.judge = judge }

    public func review(_ questions: [LLaVABench.Question], references: [String: (text: String, id: String)],
                       answers: [String: EvaluationAnswer], reviewsFile url: URL) async throws -> [LLaVABenchReview] {
        let file = ResumableJSONLines<LLaVABenchReview>(url: url)
        var done: [String: LLaVABenchReview] = [:]
        for r in try file.load(logger: logger) { done[r.questionID] = r }
        var todo: [(Int, LLaVABench.Question, String)] = []
        for (i, q) in questions.enumerated() where done[q.questionID] == nil {
            guard let rule = rules[q.ruleKey] else {
                throw EvaluationError.invalidArgument("question \(q.questionID): category '\(q.ruleKey)' has no rule (rules: \(rules.keys.sorted().joined(separator: ", ")))")
            }
            guard let answer = answers[q.questionID] else { throw EvaluationError.invalidArgument("question \(q.questionID) has no model answer") }
            todo.append((i, q, LLaVABench.reviewContent(q, reference: references[q.questionID]!.text, answer: answer.text, rule: rule)))
        }
        if !done.isEmpty { logger.info("resuming: \(done.count) of \(questions.count) reviews already done") }
        if !todo.isEmpty {
            let handle = try file.appender()
            defer { try? handle.close() }
            let (judge, attempts, logger) = (self.judge, max(1, self.attempts), self.logger)
            try await forEachConcurrently(todo, limit: parallel, work: { index, q, content in
                var reply = "", scores: [Double]? = nil, tries = 0
                while scores == nil && tries < attempts {
                    tries += 1
                    reply = try await judge.reply(system: LLaVABench.judgeSystem, user: content)
                    scores = LLaVABench.parseScores(reply)
                    if scores == nil { logger.warning("question \(q.questionID): review \(tries)/\(attempts) has no two scores on its first line") }
                }
                return LLaVABenchReview(id: index + 1, questionID: q.questionID, answer1ID: references[q.questionID]!.id,
                                        answer2ID: answers[q.questionID]!.answerID, category: q.ruleKey, content: reply,
                                        tuple: scores ?? [-1, -1], attempts: tries)
            }, record: { review in
                done[review.questionID] = review
                try JSONLines.append(review, to: handle)
            })
        }
        let ordered = questions.compactMap { done[$0.questionID] }
        try file.write(ordered)
        return ordered
    }
}

/// `summarize_gpt_review.py`'s numbers per category and over all: the mean of each score
/// (rounded to 3 places), the model's relative score mean₂ / mean₁ × 100 (rounded to 1), and
/// both means × 10. As in the reference, a review without readable scores keeps its tuple
/// [-1, -1] and is averaged in (it pulls both means down); `unparsable` counts them. A mean
/// reference score of 0 (the reference divides by zero) leaves the relative score NaN.
public struct LLaVABenchSummary: Codable, Sendable, Equatable {
    public struct Row: Codable, Sendable, Equatable {
        public var relative: Double
        public var reference: Double
        public var model: Double
        /// Reviews averaged, unparsable ones included.
        public var count: Int
        public var unparsable: Int
    }

    public var rows: [String: Row]
    public var unparsable: Int

    public init(_ reviews: [LLaVABenchReview]) {
        var groups: [String: [LLaVABenchReview]] = [:]
        for r in reviews {
            groups[r.category, default: []].append(r)
            groups["all", default: []].append(r)
        }
        rows = groups.mapValues { group in
            let n = Double(group.count)
            let m1 = pythonRound(group.map { $0.tuple[0] }.reduce(0, +) / n, 3)
            let m2 = pythonRound(group.map { $0.tuple[1] }.reduce(0, +) / n, 3)
            return Row(relative: m1 == 0 ? .nan : pythonRound(m2 / m1 * 100, 1), reference: pythonRound(m1 * 10, 1),
                       model: pythonRound(m2 * 10, 1), count: group.count, unparsable: group.filter { !$0.isParsed }.count)
        }
        unparsable = reviews.filter { !$0.isParsed }.count
    }

    /// Category names as the paper's table has them.
    static func column(_ key: String) -> String {
        switch key.replacingOccurrences(of: "llava_bench_", with: "") {
        case "conv": return "conversation"
        case "all": return "overall"
        case let other: return other
        }
    }

    public func result(model: String, benchmark: String = "llava-bench") -> BenchmarkResult {
        var metrics: [String: Double] = [:]
        var counts: [String: Int] = ["unparsable reviews": unparsable]
        for (k, r) in rows {
            if r.relative.isFinite { metrics[Self.column(k)] = r.relative }
            counts[Self.column(k)] = r.count
        }
        return BenchmarkResult(benchmark: benchmark, model: model, headline: "overall", metrics: metrics, counts: counts)
    }
}

/// Python's `round(x, places)`: the correctly rounded decimal (ties to even on exact halves),
/// which C's printf also gives.
func pythonRound(_ x: Double, _ places: Int) -> Double {
    Double(String(format: "%.\(places)f", x)) ?? x
}
