import Foundation

/// MME: yes/no questions, two per image, in per-subtask folders of
/// `MME_Benchmark_release_version`: either `<subtask>/images/<image>` with
/// `<subtask>/questions_answers_YN/<stem>.txt`, or `<subtask>/<image>` beside `<subtask>/<stem>.txt`;
/// each line of a text file is `question<TAB>Yes|No`. LLaVA-1.5 asks each question with its
/// "Please answer yes or no." replaced by the short-answer instruction; the scores are those of
/// MME's `eval_tool/calculation.py`.
public enum MME {
    public static let perception = ["existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR"]
    public static let cognition = ["commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning"]

    public struct Question: Sendable, Equatable {
        public var subtask: String
        public var image: String           // file name inside the subtask's image folder
        public var imagePath: String       // relative to the benchmark folder
        public var question: String        // as the file has it
        public var answer: String          // "Yes" / "No"
        public var id: String { "\(subtask)/\(image)/\(question)" }
    }

    static let imageExtensions = ["png", "jpg", "jpeg", "PNG", "JPG", "JPEG"]

    /// Every subtask folder under `root` that holds question files.
    public static func load(root: URL) throws -> [Question] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: root.path) else { throw EvaluationError.missingFile(root.path) }
        var questions: [Question] = []
        for subtask in try fm.contentsOfDirectory(atPath: root.path).sorted() {
            let dir = root.appendingPathComponent(subtask)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else { continue }
            let nested = fm.fileExists(atPath: dir.appendingPathComponent("questions_answers_YN").path)
            let qaDir = nested ? dir.appendingPathComponent("questions_answers_YN") : dir
            let imageDir = nested ? "\(subtask)/images" : subtask
            for file in try fm.contentsOfDirectory(atPath: qaDir.path).filter({ $0.hasSuffix(".txt") }).sorted() {
                let stem = String(file.dropLast(4))
                guard let image = imageExtensions.map({ "\(stem).\($0)" })
                    .first(where: { fm.fileExists(atPath: root.appendingPathComponent("\(imageDir)/\($0)").path) }) else {
                    throw EvaluationError.missingFile(root.appendingPathComponent("\(imageDir)/\(stem).png").path + " (or .jpg), the image of \(qaDir.path)/\(file)")
                }
                questions += try parse(qaDir.appendingPathComponent(file), subtask: subtask, image: image, imagePath: "\(imageDir)/\(image)")
            }
        }
        guard !questions.isEmpty else { throw EvaluationError.invalidArgument("\(root.path): no MME subtask folders with question files") }
        return questions
    }

    static func parse(_ url: URL, subtask: String, image: String, imagePath: String) throws -> [Question] {
        let text = String(decoding: try BenchmarkFile.data(url), as: UTF8.self)
        var out: [Question] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !line.isEmpty else { continue }
            let parts = line.components(separatedBy: "\t")
            guard parts.count == 2 else {
                throw EvaluationError.badLine(file: url.path, line: i + 1, reason: "expected 'question<TAB>answer', found \(parts.count) fields")
            }
            guard ["yes", "no"].contains(parts[1].lowercased()) else {
                throw EvaluationError.badField(file: url.path, location: "line \(i + 1)", field: "answer", reason: "expected Yes or No, found '\(parts[1])'")
            }
            out.append(Question(subtask: subtask, image: image, imagePath: imagePath, question: parts[0], answer: parts[1]))
        }
        return out
    }

    /// The question as LLaVA-1.5 asks it: "Please answer yes or no." dropped, the short-answer line added.
    public static func prompt(_ question: String) -> String {
        let stripped = question.replacingOccurrences(of: "Please answer yes or no.", with: "").trimmingCharacters(in: .whitespaces)
        return BenchmarkInstruction.append(BenchmarkInstruction.shortAnswer, to: stripped)
    }

    public static func items(_ questions: [Question], root: URL) -> [BenchmarkItem] {
        questions.map { BenchmarkItem(id: $0.id, image: .file(root.appendingPathComponent($0.imagePath)), text: prompt($0.question),
                                      metadata: ["category": $0.subtask]) }
    }

    /// MME's reading of a prediction (lower-cased): "yes"/"no" exactly, else "yes" or "no"
    /// within its first four characters (yes first), else "other" (always wrong).
    public static func label(_ prediction: String) -> String {
        let p = prediction.lowercased()
        if p == "yes" || p == "no" { return p }
        let prefix = String(p.prefix(4))
        if prefix.contains("yes") { return "yes" }
        if prefix.contains("no") { return "no" }
        return "other"
    }

    public struct SubtaskScore: Codable, Sendable, Equatable {
        public var correct = 0, questions = 0, imagesBothCorrect = 0, images = 0
        /// Accuracy over questions, in percent.
        public var accuracy: Double { percent(correct, questions) }
        /// Images with both questions right, in percent.
        public var accuracyPlus: Double { percent(imagesBothCorrect, images) }
        public var score: Double { accuracy + accuracyPlus }
    }

    /// One line per question, tab-separated (question file, question, truth, answer), two
    /// consecutive lines per image: the `<subtask>.txt` files `convert_answer_to_mme.py` writes
    /// and MME's `calculation.py --results_dir` reads.
    public static func resultFiles(_ questions: [Question], answers: [String: EvaluationAnswer]) throws -> [String: String] {
        var files: [String: String] = [:]
        for group in groupedByImage(questions) {
            for q in group {
                guard let a = answers[q.id] else { throw EvaluationError.invalidArgument("MME \(q.subtask) \(q.image): question '\(q.question)' has no answer") }
                let clean = { (s: String) in s.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ") }
                let questionFile = (q.image as NSString).deletingPathExtension + ".txt"
                files[q.subtask, default: ""] += [questionFile, clean(q.question), q.answer, clean(a.text)].joined(separator: "\t") + "\n"
            }
        }
        return files
    }

    /// Scores each subtask from its result-file text, as `calculation.py` does.
    public static func score(resultFile text: String, name: String) throws -> SubtaskScore {
        let lines = text.split(separator: "\n").map(String.init)
        guard lines.count % 2 == 0 else { throw EvaluationError.invalidArgument("\(name): \(lines.count) lines, expected two per image") }
        var s = SubtaskScore()
        for pair in stride(from: 0, to: lines.count, by: 2) {
            var both = 0
            for line in lines[pair...(pair + 1)] {
                let f = line.components(separatedBy: "\t")
                guard f.count == 4 else { throw EvaluationError.invalidArgument("\(name): '\(line)' has \(f.count) fields, expected 4") }
                s.questions += 1
                if f[2].lowercased() == label(f[3]) { s.correct += 1; both += 1 }
            }
            s.images += 1
            if both == 2 { s.imagesBothCorrect += 1 }
        }
        return s
    }

    /// Questions grouped by image, in load order, each group of two.
    static func groupedByImage(_ questions: [Question]) -> [[Question]] {
        var order: [String] = []
        var groups: [String: [Question]] = [:]
        for q in questions {
            let key = "\(q.subtask)/\(q.image)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(q)
        }
        return order.map { groups[$0]! }
    }

    public static func result(_ scores: [String: SubtaskScore], model: String) -> BenchmarkResult {
        var metrics: [String: Double] = [:]
        for (name, s) in scores {
            metrics["\(name) accuracy"] = s.accuracy
            metrics["\(name) accuracy+"] = s.accuracyPlus
            metrics["\(name) score"] = s.score
        }
        metrics["perception"] = perception.compactMap { scores[$0]?.score }.reduce(0, +)
        metrics["cognition"] = cognition.compactMap { scores[$0]?.score }.reduce(0, +)
        return BenchmarkResult(benchmark: "mme", model: model, headline: "perception", metrics: metrics,
                               counts: scores.mapValues(\.questions))
    }
}
