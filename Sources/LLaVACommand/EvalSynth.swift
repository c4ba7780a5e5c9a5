import ArgumentParser
import DataGeneration
import Evaluation
import Foundation
import LLaVA
import Logging

/// Flags shared by the evaluation commands.
struct EvalOptions: ParsableArguments {
    @Option(help: "Model directory.") var model: String
    @Option(help: "CLIP tower directory (original-layout checkpoints).") var visionTower: String?
    @Option(help: "Questions, JSONL: {question_id, image, text[, answer, type]}.") var questionFile: String
    @Option(help: "Folder the questions' image paths are relative to.") var imageFolder: String = "."
    @Option(help: "Answers, JSONL (LLaVA's answers-file format).") var answersFile: String?
    @Option(help: "Conversation template (default: the model's).") var convMode: String?
    @Option(help: "Split the questions into this many chunks…") var numChunks = 1
    @Option(help: "…and answer this one.") var chunkIdx = 0
    @Option(help: "Longest answer (default 64; 160 for `llava eval synth --task describe`).") var maxNewTokens: Int?
    @Option(help: "Questions decoded together in one batch.") var parallel = 4

    func validate() throws {
        guard numChunks > 0, (0..<numChunks).contains(chunkIdx) else { throw ValidationError("--chunk-idx must be in 0..<--num-chunks") }
        if let m = maxNewTokens, m < 1 { throw ValidationError("--max-new-tokens must be at least 1, got \(m)") }
    }

    /// The question file's questions of this chunk.
    func questions() throws -> [EvaluationQuestion] {
        Array(QuestionAnswering.chunk(try JSONLines.read(URL(fileURLWithPath: questionFile), as: EvaluationQuestion.self),
                                count: numChunks, index: chunkIdx))
    }

    /// Answers every question of the chunk (each followed by "\n" + `instruction` if given)
    /// through the shared answering loop (batched, resumable); returns the questions with the
    /// model's answers.
    func run(instruction: String? = nil) async throws -> [(EvaluationQuestion, String)] {
        let questions = try questions()
        let folder = URL(fileURLWithPath: imageFolder)
        let items = questions.map { q in
            var meta: [String: String] = [:]
            if let t = q.type { meta["type"] = t }
            if let a = q.answer { meta["reference"] = a }
            return BenchmarkItem(id: q.questionID, image: q.image.map { .file(folder.appendingPathComponent($0)) },
                                 text: instruction.map { q.text + "\n" + $0 } ?? q.text, metadata: meta)
        }
        let answers = try await answer(items)
        return questions.map { ($0, answers[$0.questionID] ?? "") }
    }

    /// Answers `items` through the shared answering loop (batched, resumable through the answers
    /// file, which also keeps the answers of `later` ids); returns the answers' text by item id.
    func answer(_ items: [BenchmarkItem], keeping later: Set<String> = [], defaultMaxNewTokens: Int = 64) async throws -> [String: String] {
        let maxNewTokens = self.maxNewTokens ?? defaultMaxNewTokens
        let logger = Logger(label: "llava.eval")
        let answers = try await AnswerRun(answersFile: answersFile.map { URL(fileURLWithPath: $0) }, logger: logger).run(items, keeping: later) {
            guard case .llava(let llava) = try LoadedModel(directory: model, visionTower: visionTower, logger: logger) else {
                throw ValidationError("\(model) is a text-only model")
            }
            let template = try convMode.map { try ConversationTemplate.named($0) }
            return EngineAnswerer(engine: InferenceEngine(model: llava, template: template, parallel: parallel, logger: logger),
                                  maxNewTokens: maxNewTokens)
        }
        return answers.mapValues(\.text)
    }
}

struct VQA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer a JSONL question file, as the reference's model_vqa does.")
    @OptionGroup var eval: EvalOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply()
        _ = try await eval.run()
    }
}

struct SynthEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Accuracy per question type on the synthetic world's held-out questions (llava data synth writes eval_test.jsonl).",
        discussion: """
        --task describe asks for a description of each image of the question file and scores it against its scene: \
        precision, recall and F1 of the (colour, shape) objects named, the share placed in the right region, and \
        the images with a repeated mention (one object named twice) or named exactly. --task follow-up asks scripted two-turn conversations about each image \
        ("How many stars are there?" then "And what color is it?"; "What shape is the blue object?" then "And where is \
        it?") and scores the follow-up beside the same question asked directly. Both need --scenes.
        """)
    enum SynthTask: String, ExpressibleByArgument, CaseIterable { case questions, describe, followUp = "follow-up" }

    @OptionGroup var eval: EvalOptions
    @Flag(help: "Print the report as JSON.") var json = false
    @Option(help: "Also write the report as JSON to this file.") var reportFile: String?
    @Flag(help: "Ask for one word, as LLaVA-1.5's VQAv2 and GQA evaluations do (\"\\nAnswer the question using a single word or phrase.\" after each question).")
    var shortAnswer = false
    @Option(help: "The questions' scenes_<split>.json: the report then also scores a baseline that answers without binding the question to an object (colour and shape questions get the image's most common colour or shape; other types the set's most common answer).")
    var scenes: String?
    @Option(help: "What to evaluate: 'questions' (the question file's), 'describe' (a description of each of its images) or 'follow-up' (two-turn conversations about each of its images).")
    var task: SynthTask = .questions
    @Option(help: "The request of --task describe.") var describePrompt = "Describe the image in detail."
    @Option(help: "With --task describe, ask each image's first N questions of the question file first, one turn at a time after the model's own answers (as in `llava chat`), and the description as turn N+1.")
    var describeAfter = 0
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        if task != .questions && scenes == nil { throw ValidationError("--task \(task.rawValue) needs --scenes") }
        guard describeAfter >= 0 else { throw ValidationError("--describe-after must be 0 or more, got \(describeAfter)") }
        if describeAfter > 0 && task != .describe { throw ValidationError("--describe-after needs --task describe") }
    }

    func run() async throws {
        try runtime.apply()
        let scenesByID = try scenes.map { try ShortAnswerVQA.readScenes(from: URL(fileURLWithPath: $0)) }
        if let scenesByID, let scenes {
            // Checked before the model runs, so a wrong file fails at once.
            for q in try JSONLines.read(URL(fileURLWithPath: eval.questionFile), as: EvaluationQuestion.self) {
                guard let image = q.image, scenesByID[UnboundBaseline.sceneID(ofImage: image)] != nil else {
                    throw ValidationError("\(scenes) has no scene for question \(q.questionID)'s image \(q.image ?? "(none)")")
                }
            }
        }
        let report: SynthReport
        switch task {
        case .questions: report = try await questionReport(scenesByID)
        case .describe: report = try await describeReport(scenesByID!)
        case .followUp: report = try await followUpReport(scenesByID!)
        }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let encoded = try e.encode(report)
        if let reportFile { try encoded.write(to: URL(fileURLWithPath: reportFile), options: .atomic) }
        print(json ? String(decoding: encoded, as: UTF8.self) : report.table)
    }

    private func questionReport(_ scenesByID: [String: Scene]?) async throws -> SynthReport {
        let answered = try await eval.run(instruction: shortAnswer ? ShortAnswerVQA.instruction : nil)
        var questions: [EvalQuestion] = []
        var report = SynthReport()
        for (q, prediction) in answered {
            guard let answer = q.answer, let type = q.type.flatMap(QuestionType.init(rawValue:)) else {
                throw ValidationError("question \(q.questionID) has no answer or type: not a synthetic-world question file")
            }
            let correct = EvalQuestions.isCorrect(prediction: prediction, answer: answer, type: type)
            report.add(type: type.rawValue, correct: correct)
            if type == .relation { report.addRelation(SynthReport.relationGroup(q.text, answer: answer), correct: correct) }
            if let scene = scenesByID?[UnboundBaseline.sceneID(ofImage: q.image ?? "")], EvalQuestions.namesASharedShape(q.text, in: scene) {
                report.addSharedShape(type: type.rawValue, correct: correct)
            }
            questions.append(EvalQuestion(id: Int(q.questionID) ?? 0, image: q.image ?? "", type: type, question: q.text, answer: answer))
        }
        if let scenesByID {
            let baseline = UnboundBaseline(questions: questions, scenes: scenesByID)
            for q in questions {
                let correct = baseline.answer(q).map { EvalQuestions.isCorrect(prediction: $0, answer: q.answer, type: q.type) } ?? false
                report.addBaseline(type: q.type.rawValue, correct: correct)
                if q.type == .relation { report.addRelation(SynthReport.relationGroup(q.question, answer: q.answer), correct: correct, baseline: true) }
                if let scene = scenesByID[UnboundBaseline.sceneID(ofImage: q.image)], EvalQuestions.namesASharedShape(q.question, in: scene) {
                    report.addSharedShape(type: q.type.rawValue, correct: correct, baseline: true)
                }
            }
        }
        return report
    }
}

/// Correct / total per question type, and the unbound baseline's when scenes were given; the
/// relation questions by axis and answer; the description metrics; the follow-up conversations.
struct SynthReport: Codable {
    struct Count: Codable { var correct = 0, total = 0 }
    var types: [String: Count] = [:]
    var baseline: [String: Count]?
    /// Relation questions by axis and answer ("horizontal yes", …), model and baseline.
    var relations: [String: Count]?
    var relationsBaseline: [String: Count]?
    /// Per type, the questions that name an object whose shape another colour shares in the
    /// image (scenes given): a model that finds objects by shape alone is at chance on these.
    var sharedShape: [String: Count]?
    var sharedShapeBaseline: [String: Count]?
    var description: DescriptionTotals?
    var followUp: FollowUpTotals?

    mutating func add(type: String, correct: Bool) { Self.tally(&types, type, correct) }

    mutating func addBaseline(type: String, correct: Bool) { Self.tally(&baseline, type, correct) }

    mutating func addRelation(_ group: String, correct: Bool, baseline: Bool = false) {
        if baseline { Self.tally(&relationsBaseline, group, correct) } else { Self.tally(&relations, group, correct) }
    }

    mutating func addSharedShape(type: String, correct: Bool, baseline: Bool = false) {
        if baseline { Self.tally(&sharedShapeBaseline, type, correct) } else { Self.tally(&sharedShape, type, correct) }
    }

    private static func tally(_ counts: inout [String: Count], _ key: String, _ correct: Bool) {
        counts[key, default: Count()].total += 1
        if correct { counts[key, default: Count()].correct += 1 }
    }

    /// A table that is absent until its first count.
    private static func tally(_ counts: inout [String: Count]?, _ key: String, _ correct: Bool) {
        var filled = counts ?? [:]
        tally(&filled, key, correct)
        counts = filled
    }

    /// "horizontal yes" for "Is the red star to the left of the blue circle?" answered yes.
    static func relationGroup(_ question: String, answer: String) -> String {
        let horizontal = question.contains("left of") || question.contains("right of")
        return (horizontal ? "horizontal " : "vertical ") + answer
    }

    var table: String {
        var parts: [String] = []
        if !types.isEmpty { parts.append(typeTable) }
        if let relations, !relations.isEmpty { parts.append(relationTable(relations)) }
        if let sharedShape, !sharedShape.isEmpty { parts.append(sharedShapeTable(sharedShape)) }
        if let description { parts.append(description.table) }
        if let followUp { parts.append(followUp.table) }
        return parts.joined(separator: "\n\n")
    }

    private static func percent(_ c: Count) -> String { String(format: "%.1f%%", 100 * Double(c.correct) / Double(max(1, c.total))) }

    private var typeTable: String {
        let sum = { (counts: [String: Count]) in
            counts.values.reduce(Count()) { Count(correct: $0.correct + $1.correct, total: $0.total + $1.total) }
        }
        var lines = baseline == nil ? ["| question type | accuracy | correct / total |", "|---|---|---|"]
            : ["| question type | accuracy | correct / total | unbound baseline |", "|---|---|---|---|"]
        let order = QuestionType.allCases.map(\.rawValue)
        var rows = order.filter { types[$0] != nil }.map { ($0, types[$0]!, baseline?[$0]) }
        rows.append(("all", sum(types), baseline.map(sum)))
        for (name, c, b) in rows {
            lines.append("| \(name) | \(Self.percent(c)) | \(c.correct) / \(c.total) |" + (b.map { " \(Self.percent($0)) |" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    private func sharedShapeTable(_ counts: [String: Count]) -> String {
        var lines = ["| naming an object whose shape another colour shares | accuracy | correct / total | unbound baseline |",
                     "|---|---|---|---|"]
        for type in QuestionType.allCases.map(\.rawValue) {
            guard let c = counts[type] else { continue }
            lines.append("| \(type) | \(Self.percent(c)) | \(c.correct) / \(c.total) |"
                         + (sharedShapeBaseline?[type].map { " \(Self.percent($0)) |" } ?? " |"))
        }
        return lines.joined(separator: "\n")
    }

    private func relationTable(_ relations: [String: Count]) -> String {
        var lines = ["| relation questions | accuracy | correct / total |" + (relationsBaseline == nil ? "" : " unbound baseline |"),
                     "|---|---|---|" + (relationsBaseline == nil ? "" : "---|")]
        for axis in ["horizontal", "vertical"] {
            for answer in ["yes", "no"] {
                let key = "\(axis) \(answer)"
                guard let c = relations[key] else { continue }
                lines.append("| \(key) | \(Self.percent(c)) | \(c.correct) / \(c.total) |"
                             + (relationsBaseline?[key].map { " \(Self.percent($0)) |" } ?? ""))
            }
        }
        return lines.joined(separator: "\n")
    }
}

struct SynthBenchmarksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-benchmarks",
        abstract: "Turn the synthetic world's held-out questions into POPE, MME and ScienceQA layouts (for the built-in model).",
        discussion: """
        Writes <out>/pope/coco_pope_synth.json (existence questions), <out>/mme/existence/ (each image with its \
        yes and its no question) and <out>/scienceqa/ (problems.json, pid_splits.json, images/<split>/<id>/image.png: \
        colour, shape and count questions as multiple choice). Then run e.g. \
        `llava eval pope --annotation-dir <out>/pope --image-folder <data>/images`.
        """)
    @Option(help: "A `llava data synth` output folder (eval_<split>.jsonl and images/).") var data: String
    @Option(help: "The split whose questions to use.") var split = "test"
    @Option(help: "Output folder.") var out: String
    @Option(help: "Seed of the multiple-choice order.") var seed: UInt64 = 0

    func run() throws {
        let base = URL(fileURLWithPath: data)
        let questions = try EvalQuestions.readJSONL(from: base.appendingPathComponent("eval_\(split).jsonl"))
        let n = try SynthBenchmarks.write(questions: questions, imageFolder: base.appendingPathComponent("images"),
                                          output: URL(fileURLWithPath: out), split: split, seed: seed)
        print("POPE: \(n.pope) questions; MME existence: \(n.mme) images; ScienceQA: \(n.scienceqa) problems → \(out)")
    }
}
