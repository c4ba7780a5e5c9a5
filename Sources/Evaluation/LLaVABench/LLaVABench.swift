import Foundation

/// LLaVA-Bench (COCO and in-the-wild): `questions.jsonl` ({question_id, image, text, category}),
/// a context file (`context.jsonl` in the wild: {image, caption}; COCO's
/// `caps_boxes_coco2014_val_80.jsonl`: {image, captions, instances: [{category, bbox}]}) and the
/// reference answers (`answers_gpt4.jsonl`). The model answers each question as asked (no
/// instruction); the judge's review content and scoring follow `eval_gpt_review_bench.py`,
/// `eval_gpt_review_visual.py` and `summarize_gpt_review.py`.
public enum LLaVABench {
    public struct Question: Sendable, Equatable {
        public var questionID: String
        public var image: String
        public var text: String
        /// The rule key: `llava_bench_<category>` in the wild, `<category>` for COCO.
        public var ruleKey: String
        /// The context as the review shows it.
        public var context: String

        public init(questionID: String, image: String, text: String, ruleKey: String, context: String) {
            self.questionID = questionID; self.image = image; self.text = text; self.ruleKey = ruleKey; self.context = context
        }
    }

    /// The questions with their contexts; `references` by question id.
    public static func load(questions qURL: URL, context cURL: URL, references rURL: URL) throws -> (questions: [Question], references: [String: (text: String, id: String)]) {
        var contexts: [String: (text: String, coco: Bool)] = [:]
        for (line, o) in try BenchmarkFile.jsonLines(cURL) {
            let image = try BenchmarkFile.field(o, "image", in: cURL, at: "line \(line)", as: String.self)
            contexts[image] = try contextText(o, file: cURL, at: "line \(line)")
        }
        let questions = try BenchmarkFile.jsonLines(qURL).map { line, o -> Question in
            let at = "line \(line)"
            let image = try BenchmarkFile.field(o, "image", in: qURL, at: at, as: String.self)
            guard let context = contexts[image] else {
                throw EvaluationError.badField(file: qURL.path, location: at, field: "image", reason: "'\(image)' has no entry in \(cURL.path)")
            }
            let category = try BenchmarkFile.field(o, "category", in: qURL, at: at, as: String.self)
            return Question(questionID: try BenchmarkFile.id(o, "question_id", in: qURL, at: at), image: image,
                            text: try BenchmarkFile.field(o, "text", in: qURL, at: at),
                            ruleKey: context.coco ? category : "llava_bench_" + category, context: context.text)
        }
        var references: [String: (String, String)] = [:]
        for (line, o) in try BenchmarkFile.jsonLines(rURL) {
            let id = try BenchmarkFile.id(o, "question_id", in: rURL, at: "line \(line)")
            let answerID = (o["answer_id"]).map { "\($0)" } ?? id
            references[id] = (try BenchmarkFile.field(o, "text", in: rURL, at: "line \(line)"), answerID)
        }
        for q in questions where references[q.questionID] == nil {
            throw EvaluationError.badField(file: rURL.path, location: "question \(q.questionID)", field: "question_id", reason: "no reference answer")
        }
        return (questions, references)
    }

    /// In the wild: the caption (or captions, one per line). COCO: captions, a blank line, then
    /// one "category: [x1, y1, x2, y2]" line per object, as Python prints the list.
    static func contextText(_ o: [String: Any], file: URL, at: String) throws -> (text: String, coco: Bool) {
        if let instances = o["instances"] as? [[String: Any]] {
            let captions = try BenchmarkFile.field(o, "captions", in: file, at: at, as: [String].self)
            let boxes = try instances.map { i -> String in
                let category = try BenchmarkFile.field(i, "category", in: file, at: at, as: String.self)
                let bbox = try BenchmarkFile.field(i, "bbox", in: file, at: at, as: [NSNumber].self)
                return "\(category): [" + bbox.map(pythonNumber).joined(separator: ", ") + "]"
            }
            return (captions.joined(separator: "\n") + "\n\n" + boxes.joined(separator: "\n"), true)
        }
        if let list = o["caption"] as? [String] { return (list.joined(separator: "\n"), false) }
        return (try BenchmarkFile.field(o, "caption", in: file, at: at, as: String.self), false)
    }

    /// A JSON number as Python's `repr` writes it (ints bare, floats shortest round-trip with ".0").
    static func pythonNumber(_ n: NSNumber) -> String {
        let type = String(cString: n.objCType)
        if type != "d" && type != "f" { return "\(n.int64Value)" }
        let d = n.doubleValue
        return d == d.rounded() && abs(d) < 1e16 ? String(format: "%.1f", d) : "\(d)"
    }

    public static func items(_ questions: [Question], imageFolder: URL) -> [BenchmarkItem] {
        questions.map { BenchmarkItem(id: $0.questionID, image: .file(imageFolder.appendingPathComponent($0.image)), text: $0.text,
                                      metadata: ["category": $0.ruleKey]) }
    }

    public static let judgeSystem = "You are a helpful and precise assistant for checking the quality of the answer."

    /// The review request: context, question, the reference's answer as Assistant 1, the
    /// model's as Assistant 2, then the category's rule.
    public static func reviewContent(_ q: Question, reference: String, answer: String, rule: LLaVABenchRule) -> String {
        let role = rule.role
        return "[Context]\n\(q.context)\n\n[Question]\n\(q.text)\n\n[\(role) 1]\n\(reference)\n\n[End of \(role) 1]\n\n"
            + "[\(role) 2]\n\(answer)\n\n[End of \(role) 2]\n\n[System]\n\(rule.prompt)\n\n"
    }

    /// The two scores on the review's first line (commas read as spaces, exactly two
    /// space-separated numbers), or nil.
    public static func parseScores(_ review: String) -> [Double]? {
        let first = review.components(separatedBy: "\n")[0].replacingOccurrences(of: ",", with: " ")
        let parts = first.components(separatedBy: " ")
        let number = { (s: String) in Double(s.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard parts.count == 2, let a = number(parts[0]), let b = number(parts[1]) else { return nil }
        return [a, b]
    }
}
