import Foundation

/// One problem of ScienceQA's `problems.json` (the fields the evaluation reads).
public struct ScienceQAProblem: Sendable, Equatable {
    public var id: String
    public var question: String
    public var choices: [String]
    /// Index of the right choice.
    public var answer: Int
    public var hint: String
    /// The image's file name inside `images/<split>/<id>/`, nil for text-only problems.
    public var image: String?
    public var subject: String
    public var grade: String

    /// `problems.json` (id → problem) restricted to `split` of `pid_splits.json`, in split order.
    public static func load(problems problemsURL: URL, splits splitsURL: URL, split: String) throws -> [ScienceQAProblem] {
        guard let splits = try BenchmarkFile.json(splitsURL) as? [String: Any] else {
            throw EvaluationError.badLine(file: splitsURL.path, line: 1, reason: "expected an object of split → ids")
        }
        guard let ids = splits[split] as? [Any] else {
            throw EvaluationError.badField(file: splitsURL.path, location: "top level", field: split,
                                           reason: "no such split (have \(splits.keys.sorted().joined(separator: ", ")))")
        }
        guard let problems = try BenchmarkFile.json(problemsURL) as? [String: Any] else {
            throw EvaluationError.badLine(file: problemsURL.path, line: 1, reason: "expected an object of id → problem")
        }
        return try ids.map { raw in
            let id = "\(raw)"
            guard let p = problems[id] as? [String: Any] else {
                throw EvaluationError.badField(file: problemsURL.path, location: "top level", field: id, reason: "problem listed in \(splitsURL.lastPathComponent) '\(split)' is missing")
            }
            return try ScienceQAProblem(id: id, json: p, file: problemsURL)
        }
    }

    init(id: String, json p: [String: Any], file: URL) throws {
        let at = "problem \(id)"
        self.id = id
        question = try BenchmarkFile.field(p, "question", in: file, at: at)
        choices = try BenchmarkFile.field(p, "choices", in: file, at: at, as: [Any].self).map { "\($0)" }
        answer = try BenchmarkFile.field(p, "answer", in: file, at: at)
        guard choices.indices.contains(answer), choices.count <= ScienceQA.options.count else {
            throw EvaluationError.badField(file: file.path, location: at, field: "answer", reason: "\(answer) is not an index of its \(choices.count) choices (at most 5)")
        }
        hint = (p["hint"] as? String) ?? ""
        image = p["image"] as? String
        subject = try BenchmarkFile.field(p, "subject", in: file, at: at)
        grade = try BenchmarkFile.field(p, "grade", in: file, at: at)
    }

    public init(id: String, question: String, choices: [String], answer: Int, hint: String, image: String?, subject: String, grade: String) {
        self.id = id; self.question = question; self.choices = choices; self.answer = answer
        self.hint = hint; self.image = image; self.subject = subject; self.grade = grade
    }
}
