import Foundation

/// A short-answer question of VQAv2, TextVQA or VizWiz, with its human answers when the split has them.
public struct ShortAnswerQuestion: Sendable, Equatable {
    public var questionID: String
    /// The image file, relative to the image folder.
    public var image: String
    public var question: String
    public var humanAnswers: [String]?
}

/// VQAv2, TextVQA and VizWiz from their original files, asked with LLaVA-1.5's instructions and
/// scored with the VQA accuracy (`VQAAccuracy`) where the split has answers; each writes the
/// file its evaluation server takes (answers normalised as LLaVA's submission scripts do).
public enum ShortAnswerBenchmark: String, Sendable, CaseIterable {
    case vqav2, textvqa, vizwiz

    /// The text the model gets.
    public func prompt(_ q: ShortAnswerQuestion) -> String {
        switch self {
        case .vizwiz: return BenchmarkInstruction.append(BenchmarkInstruction.vizWizUnanswerable, BenchmarkInstruction.shortAnswer, to: q.question)
        case .vqav2, .textvqa: return BenchmarkInstruction.append(BenchmarkInstruction.shortAnswer, to: q.question)
        }
    }

    public func items(_ questions: [ShortAnswerQuestion], imageFolder: URL) -> [BenchmarkItem] {
        questions.map { BenchmarkItem(id: $0.questionID, image: .file(imageFolder.appendingPathComponent($0.image)), text: prompt($0)) }
    }

    /// VQAv2: `v2_OpenEnded_mscoco_<subtype>_questions.json` and, for val, the annotations file;
    /// images are `COCO_<subtype>_<12-digit id>.jpg` (test-dev uses the test2015 images) unless
    /// `imagePrefix` says otherwise.
    public static func loadVQAv2(questions qURL: URL, annotations aURL: URL?, imagePrefix: String? = nil) throws -> [ShortAnswerQuestion] {
        guard let top = try BenchmarkFile.json(qURL) as? [String: Any] else { throw EvaluationError.badLine(file: qURL.path, line: 1, reason: "expected an object") }
        let records = try BenchmarkFile.field(top, "questions", in: qURL, at: "top level", as: [[String: Any]].self)
        let subtype = (top["data_subtype"] as? String) ?? "val2014"
        let prefix = imagePrefix ?? "COCO_\(subtype.contains("test") ? "test2015" : subtype)_"
        var answers: [String: [String]]?
        if let aURL {
            guard let a = try BenchmarkFile.json(aURL) as? [String: Any] else { throw EvaluationError.badLine(file: aURL.path, line: 1, reason: "expected an object") }
            answers = [:]
            for (i, o) in try BenchmarkFile.field(a, "annotations", in: aURL, at: "top level", as: [[String: Any]].self).enumerated() {
                let at = "annotations[\(i)]"
                let list = try BenchmarkFile.field(o, "answers", in: aURL, at: at, as: [[String: Any]].self)
                answers![try BenchmarkFile.id(o, "question_id", in: aURL, at: at)] = try list.map { try BenchmarkFile.field($0, "answer", in: aURL, at: at) }
            }
        }
        return try records.enumerated().map { i, o in
            let at = "questions[\(i)]"
            let id = try BenchmarkFile.id(o, "question_id", in: qURL, at: at)
            let imageID = try BenchmarkFile.field(o, "image_id", in: qURL, at: at, as: Int.self)
            if let answers, answers[id] == nil {
                throw EvaluationError.badField(file: aURL!.path, location: "question \(id)", field: "annotations", reason: "no annotation for this question")
            }
            return ShortAnswerQuestion(questionID: id, image: prefix + String(format: "%012d.jpg", imageID),
                                       question: try BenchmarkFile.field(o, "question", in: qURL, at: at), humanAnswers: answers?[id])
        }
    }

    /// TextVQA: `TextVQA_0.5.1_<split>.json` ({data: [{question_id, image_id, question, answers}]}); images `<image_id>.jpg`.
    public static func loadTextVQA(_ url: URL) throws -> [ShortAnswerQuestion] {
        guard let top = try BenchmarkFile.json(url) as? [String: Any] else { throw EvaluationError.badLine(file: url.path, line: 1, reason: "expected an object") }
        return try BenchmarkFile.field(top, "data", in: url, at: "top level", as: [[String: Any]].self).enumerated().map { i, o in
            let at = "data[\(i)]"
            return ShortAnswerQuestion(questionID: try BenchmarkFile.id(o, "question_id", in: url, at: at),
                                       image: try BenchmarkFile.field(o, "image_id", in: url, at: at, as: String.self) + ".jpg",
                                       question: try BenchmarkFile.field(o, "question", in: url, at: at),
                                       humanAnswers: (o["answers"] as? [Any])?.map { "\($0)" })
        }
    }

    /// VizWiz: `val.json` / `test.json`, a list of {image, question, answers: [{answer, …}]?}; the image name is the id.
    public static func loadVizWiz(_ url: URL) throws -> [ShortAnswerQuestion] {
        guard let list = try BenchmarkFile.json(url) as? [[String: Any]] else { throw EvaluationError.badLine(file: url.path, line: 1, reason: "expected a list of questions") }
        return try list.enumerated().map { i, o in
            let at = "[\(i)]"
            let image = try BenchmarkFile.field(o, "image", in: url, at: at, as: String.self)
            let answers = try (o["answers"] as? [[String: Any]])?.map { try BenchmarkFile.field($0, "answer", in: url, at: at, as: String.self) }
            return ShortAnswerQuestion(questionID: image, image: image, question: try BenchmarkFile.field(o, "question", in: url, at: at),
                                       humanAnswers: answers)
        }
    }

    /// The submission file: VQAv2 and TextVQA `[{question_id, answer}]` (every question, "" when
    /// unanswered), VizWiz `[{image, answer}]`; answers normalised.
    public func submission(_ questions: [ShortAnswerQuestion], answers: [String: EvaluationAnswer]) throws -> Data {
        let rows: [[String: Any]] = questions.map { q in
            let answer = answers[q.questionID].map { VQAAnswerNormalizer.normalize($0.text) } ?? ""
            switch self {
            case .vizwiz: return ["image": q.image, "answer": answer]
            case .vqav2, .textvqa: return ["question_id": Int(q.questionID).map { $0 as Any } ?? q.questionID, "answer": answer]
            }
        }
        return try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// VQA accuracy over the questions that have human answers; nil when none has.
    public func result(_ questions: [ShortAnswerQuestion], answers: [String: EvaluationAnswer], model: String) -> BenchmarkResult? {
        let scored = questions.compactMap { q in q.humanAnswers.map { (prediction: answers[q.questionID]?.text ?? "", humanAnswers: $0) } }
        guard !scored.isEmpty else { return nil }
        var metrics = ["accuracy": 100 * VQAAccuracy.mean(scored)]
        if self == .vizwiz {
            // How often the model says "unanswerable" where most humans did, and overall.
            let said = questions.filter { VQAAnswerNormalizer.normalize(answers[$0.questionID]?.text ?? "") == "unanswerable" }.count
            metrics["unanswerable ratio"] = percent(said, questions.count)
        }
        return BenchmarkResult(benchmark: rawValue, model: model, headline: "accuracy", metrics: metrics, counts: ["questions": scored.count])
    }
}

/// GQA's `testdev_balanced_questions.json` (id → {imageId, question, answer, types}); images
/// `<imageId>.jpg`. Predictions are written as `convert_gqa_for_eval.py` writes them
/// (trailing periods dropped, lower case) and scored as GQA's `eval.py`: exact match, split
/// into open ("query" questions) and binary.
public enum GQA {
    public struct Question: Sendable, Equatable {
        public var questionID: String
        public var imageID: String
        public var question: String
        public var answer: String?
        public var structural: String?
    }

    public static func load(_ url: URL) throws -> [Question] {
        guard let top = try BenchmarkFile.json(url) as? [String: Any] else { throw EvaluationError.badLine(file: url.path, line: 1, reason: "expected an object of id → question") }
        return try top.keys.sorted().map { id in
            guard let o = top[id] as? [String: Any] else {
                throw EvaluationError.badField(file: url.path, location: "question \(id)", field: id, reason: "expected an object")
            }
            let at = "question \(id)"
            return Question(questionID: id, imageID: try BenchmarkFile.field(o, "imageId", in: url, at: at),
                            question: try BenchmarkFile.field(o, "question", in: url, at: at), answer: o["answer"] as? String,
                            structural: (o["types"] as? [String: Any])?["structural"] as? String)
        }
    }

    public static func items(_ questions: [Question], imageFolder: URL) -> [BenchmarkItem] {
        questions.map { BenchmarkItem(id: $0.questionID, image: .file(imageFolder.appendingPathComponent("\($0.imageID).jpg")),
                                      text: BenchmarkInstruction.append(BenchmarkInstruction.shortAnswer, to: $0.question)) }
    }

    /// `text.rstrip('.').lower()`.
    public static func prediction(_ text: String) -> String {
        var t = Substring(text)
        while t.hasSuffix(".") { t = t.dropLast() }
        return t.lowercased()
    }

    /// `testdev_balanced_predictions.json`: [{questionId, prediction}].
    public static func predictions(_ questions: [Question], answers: [String: EvaluationAnswer]) throws -> Data {
        let rows = questions.compactMap { q in answers[q.questionID].map { ["questionId": q.questionID, "prediction": prediction($0.text)] } }
        return try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    public static func result(_ questions: [Question], answers: [String: EvaluationAnswer], model: String) -> BenchmarkResult? {
        var all = (0, 0), open = (0, 0), binary = (0, 0)
        for q in questions {
            guard let gold = q.answer else { continue }
            let right = prediction(answers[q.questionID]?.text ?? "") == gold
            all.0 += right ? 1 : 0; all.1 += 1
            if q.structural == "query" { open.0 += right ? 1 : 0; open.1 += 1 } else { binary.0 += right ? 1 : 0; binary.1 += 1 }
        }
        guard all.1 > 0 else { return nil }
        return BenchmarkResult(benchmark: "gqa", model: model, headline: "accuracy",
                               metrics: ["accuracy": percent(all.0, all.1), "open": percent(open.0, open.1), "binary": percent(binary.0, binary.1)],
                               counts: ["questions": all.1, "open": open.1, "binary": binary.1])
    }
}
