import Foundation

/// A short-answer question of VQAv2, TextVQA or VizWiz, with its human answers when the split has them.
public struct ShortAnswerQuestion: Sendable, Equatable {
    public var questionID: String
    /// The image file, relative to the image folder.
    public var image: String
    public var question: String
    public var humanAnswers: [String]?
    /// VQAv2's `answer_type` ("yes/no", "number", "other"), when the annotations give it.
    public var answerType: String? = nil
    /// TextVQA's OCR tokens, asked as LLaVA-1.5's `llava_textvqa_val_v051_ocr.jsonl` does.
    public var ocrTokens: [String]? = nil
}

/// VQAv2, TextVQA and VizWiz from their original files, asked with LLaVA-1.5's instructions and
/// scored with the VQA accuracy (`VQAAccuracy`) where the split has answers; each writes the
/// file its evaluation server takes (answers normalised as LLaVA's submission scripts do).
public enum ShortAnswerBenchmark: String, Sendable, CaseIterable {
    case vqav2, textvqa, vizwiz

    /// The text the model gets. TextVQA with OCR tokens puts "Reference OCR token: " and the
    /// tokens joined by ", " on a line between the question and the instruction (an empty list
    /// leaves the line with its trailing space), as `llava_textvqa_val_v051_ocr.jsonl` has it.
    public func prompt(_ q: ShortAnswerQuestion) -> String {
        switch self {
        case .vizwiz: return BenchmarkInstruction.append(BenchmarkInstruction.vizWizUnanswerable, BenchmarkInstruction.shortAnswer, to: q.question)
        case .textvqa where q.ocrTokens != nil:
            return BenchmarkInstruction.append("Reference OCR token: " + q.ocrTokens!.joined(separator: ", "), BenchmarkInstruction.shortAnswer, to: q.question)
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
        var types: [String: String] = [:]
        if let aURL {
            guard let a = try BenchmarkFile.json(aURL) as? [String: Any] else { throw EvaluationError.badLine(file: aURL.path, line: 1, reason: "expected an object") }
            answers = [:]
            for (i, o) in try BenchmarkFile.field(a, "annotations", in: aURL, at: "top level", as: [[String: Any]].self).enumerated() {
                let at = "annotations[\(i)]"
                let list = try BenchmarkFile.field(o, "answers", in: aURL, at: at, as: [[String: Any]].self)
                let id = try BenchmarkFile.id(o, "question_id", in: aURL, at: at)
                answers![id] = try list.map { try BenchmarkFile.field($0, "answer", in: aURL, at: at) }
                types[id] = o["answer_type"] as? String
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
                                       question: try BenchmarkFile.field(o, "question", in: qURL, at: at), humanAnswers: answers?[id],
                                       answerType: types[id])
        }
    }

    /// TextVQA: `TextVQA_0.5.1_<split>.json` ({data: [{question_id, image_id, question, answers,
    /// ocr_tokens?}]}); images `<image_id>.jpg`. With `ocr`, each question carries OCR tokens:
    /// its own `ocr_tokens`, else those of its image in `ocrFile` (Rosetta's
    /// `TextVQA_Rosetta_OCR_v0.2_<split>.json`, {data: [{image_id, ocr_tokens}]}); a question
    /// with neither is an error.
    public static func loadTextVQA(_ url: URL, ocr: Bool = false, ocrFile: URL? = nil) throws -> [ShortAnswerQuestion] {
        guard let top = try BenchmarkFile.json(url) as? [String: Any] else { throw EvaluationError.badLine(file: url.path, line: 1, reason: "expected an object") }
        var byImage: [String: [String]] = [:]
        if let ocrFile {
            guard let o = try BenchmarkFile.json(ocrFile) as? [String: Any] else { throw EvaluationError.badLine(file: ocrFile.path, line: 1, reason: "expected an object") }
            for (i, entry) in try BenchmarkFile.field(o, "data", in: ocrFile, at: "top level", as: [[String: Any]].self).enumerated() {
                let at = "data[\(i)]"
                byImage[try BenchmarkFile.field(entry, "image_id", in: ocrFile, at: at, as: String.self)] =
                    try BenchmarkFile.field(entry, "ocr_tokens", in: ocrFile, at: at, as: [String].self)
            }
        }
        return try BenchmarkFile.field(top, "data", in: url, at: "top level", as: [[String: Any]].self).enumerated().map { i, o in
            let at = "data[\(i)]"
            let imageID = try BenchmarkFile.field(o, "image_id", in: url, at: at, as: String.self)
            var tokens: [String]? = nil
            if ocr {
                if o["ocr_tokens"] != nil { tokens = try BenchmarkFile.field(o, "ocr_tokens", in: url, at: at, as: [String].self) }
                tokens = tokens ?? byImage[imageID]
                guard tokens != nil else {
                    throw EvaluationError.badField(file: url.path, location: at, field: "ocr_tokens",
                                                   reason: ocrFile.map { "missing, and image \(imageID) has none in \($0.path)" } ?? "missing: give the OCR file, or ask without OCR tokens")
                }
            }
            return ShortAnswerQuestion(questionID: try BenchmarkFile.id(o, "question_id", in: url, at: at), image: imageID + ".jpg",
                                       question: try BenchmarkFile.field(o, "question", in: url, at: at),
                                       humanAnswers: (o["answers"] as? [Any])?.map { "\($0)" }, ocrTokens: tokens)
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

    /// The submission file, answers through the EvalAI processor (`VQAAnswerNormalizer`) as
    /// `convert_vqav2_for_submission.py` / `convert_vizwiz_for_submission.py` write them: VQAv2
    /// and TextVQA `[{question_id, answer}]`, VizWiz `[{image, answer}]`. `allQuestionIDs` (VQAv2:
    /// every test2015 question, the order of `llava_vqav2_mscoco_test2015.jsonl`) lists the rows;
    /// a question without an answer gets "" as in the converter.
    public func submission(_ questions: [ShortAnswerQuestion], answers: [String: EvaluationAnswer], allQuestionIDs: [String]? = nil) throws -> Data {
        let rows: [[String: Any]] = (allQuestionIDs ?? questions.map(\.questionID)).map { id in
            let answer = answers[id].map { VQAAnswerNormalizer.normalize($0.text) } ?? ""
            switch self {
            case .vizwiz: return ["image": id, "answer": answer]   // a VizWiz question's id is its image
            case .vqav2, .textvqa: return ["question_id": Int(id).map { $0 as Any } ?? id, "answer": answer]
            }
        }
        return try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The local score where the split has human answers, in percent; nil when none has.
    /// VQAv2: `vqaEval.py` (`VQAEval`) on the answers as the submission file has them (what the
    /// official script reads as results), overall and per answer type. TextVQA and VizWiz: the
    /// m4c `TextVQAAccuracyEvaluator` (`VQAAccuracy`, EvalAI processing of both sides), as
    /// `eval_textvqa.py` scores TextVQA.
    public func result(_ questions: [ShortAnswerQuestion], answers: [String: EvaluationAnswer], model: String) -> BenchmarkResult? {
        let scored = questions.filter { $0.humanAnswers != nil }
        guard !scored.isEmpty else { return nil }
        var byType: [String: [Double]] = [:]
        let scores = scored.map { q -> Double in
            let text = answers[q.questionID]?.text ?? ""
            guard self == .vqav2 else { return VQAAccuracy.score(prediction: text, humanAnswers: q.humanAnswers!) }
            let s = VQAEval.accuracy(prediction: VQAAnswerNormalizer.normalize(text), humanAnswers: q.humanAnswers!)
            if let t = q.answerType { byType[t, default: []].append(s) }
            return s
        }
        var metrics = ["accuracy": 100 * scores.reduce(0, +) / Double(scores.count)]
        for (t, v) in byType { metrics["\(t) accuracy"] = 100 * v.reduce(0, +) / Double(v.count) }
        if self == .vizwiz {
            // How often the model says "unanswerable", over all questions.
            let said = questions.filter { VQAAnswerNormalizer.normalize(answers[$0.questionID]?.text ?? "") == "unanswerable" }.count
            metrics["unanswerable ratio"] = percent(said, questions.count)
        }
        return BenchmarkResult(benchmark: rawValue, model: model, headline: "accuracy", metrics: metrics, counts: ["questions": scored.count])
    }
}

/// GQA's `testdev_balanced_questions.json` (id → {imageId, question, answer, types}); images
/// `<imageId>.jpg`. Predictions are written as `convert_gqa_for_eval.py` writes them
/// (trailing periods dropped, lower case) and scored as GQA's `eval.py`: exact match over the
/// balanced questions (`isBalanced`; absent counts as balanced), split into open ("query"
/// questions) and binary.
public enum GQA {
    public struct Question: Sendable, Equatable {
        public var questionID: String
        public var imageID: String
        public var question: String
        public var answer: String?
        public var structural: String?
        public var isBalanced = true
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
                            structural: (o["types"] as? [String: Any])?["structural"] as? String,
                            isBalanced: (o["isBalanced"] as? Bool) ?? true)
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
        for q in questions where q.isBalanced {
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
