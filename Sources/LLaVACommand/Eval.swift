import ArgumentParser
import DataGeneration
import Evaluation
import Foundation
import LLaVA

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model: LLaVA's JSONL question answering, and the synthetic world's held-out questions.",
        subcommands: [VQA.self, SynthEval.self])
}

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
    @Option(help: "Longest answer.") var maxNewTokens = 64

    func validate() throws {
        guard numChunks > 0, (0..<numChunks).contains(chunkIdx) else { throw ValidationError("--chunk-idx must be in 0..<--num-chunks") }
    }

    /// Answers every question of the chunk (each followed by "\n" + `instruction` if given),
    /// appending to the answers file as it goes; returns the questions with the model's answers.
    func run(instruction: String? = nil) throws -> [(EvaluationQuestion, String)] {
        guard case .llava(let llava) = try LoadedModel(directory: model, visionTower: visionTower, logger: .init(label: "llava.eval")) else {
            throw ValidationError("\(model) is a text-only model")
        }
        var questions = QuestionAnswering.chunk(try JSONLines.read(URL(fileURLWithPath: questionFile), as: EvaluationQuestion.self),
                                                count: numChunks, index: chunkIdx)
        if let instruction {
            for i in questions.indices { questions[i].text += "\n" + instruction }
        }
        var qa = QuestionAnswering(model: llava, imageFolder: URL(fileURLWithPath: imageFolder),
                                   template: try convMode.map { try ConversationTemplate.named($0) }, maxNewTokens: maxNewTokens)
        var handle: FileHandle?
        if let answersFile {
            FileManager.default.createFile(atPath: answersFile, contents: nil)
            handle = FileHandle(forWritingAtPath: answersFile)
        }
        defer { try? handle?.close() }
        var out: [(EvaluationQuestion, String)] = []
        let meter = ProgressMeter(quiet: false)
        for (i, q) in questions.enumerated() {
            let (prompt, text) = try qa.answer(q)
            out.append((q, text))
            if let handle {
                var meta: [String: String] = [:]
                if let t = q.type { meta["type"] = t }
                if let a = q.answer { meta["reference"] = a }
                try JSONLines.append(EvaluationAnswer(questionID: q.questionID, prompt: prompt, text: text,
                                                      answerID: UUID().uuidString, modelID: llava.name, metadata: meta), to: handle)
            }
            meter.update("question", i + 1, questions.count)
        }
        meter.finish()
        return out
    }
}

struct VQA: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer a JSONL question file, as the reference's model_vqa does.")
    @OptionGroup var eval: EvalOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        _ = try eval.run()
    }
}

struct SynthEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Accuracy per question type on the synthetic world's held-out questions (llava data synth writes eval_test.jsonl).")
    @OptionGroup var eval: EvalOptions
    @Flag(help: "Print the report as JSON.") var json = false
    @Option(help: "Also write the report as JSON to this file.") var reportFile: String?
    @Flag(help: "Ask for one word, as LLaVA-1.5's VQAv2 and GQA evaluations do (\"\\nAnswer the question using a single word or phrase.\" after each question).")
    var shortAnswer = false
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let answered = try eval.run(instruction: shortAnswer ? ShortAnswerVQA.instruction : nil)
        var report = SynthReport()
        for (q, prediction) in answered {
            guard let answer = q.answer, let type = q.type.flatMap(QuestionType.init(rawValue:)) else {
                throw ValidationError("question \(q.questionID) has no answer or type: not a synthetic-world question file")
            }
            report.add(type: type.rawValue, correct: EvalQuestions.isCorrect(prediction: prediction, answer: answer, type: type))
        }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let encoded = try e.encode(report)
        if let reportFile { try encoded.write(to: URL(fileURLWithPath: reportFile), options: .atomic) }
        print(json ? String(decoding: encoded, as: UTF8.self) : report.table)
    }
}

/// Correct / total per question type.
struct SynthReport: Codable {
    struct Count: Codable { var correct = 0, total = 0 }
    var types: [String: Count] = [:]

    mutating func add(type: String, correct: Bool) {
        types[type, default: Count()].total += 1
        if correct { types[type, default: Count()].correct += 1 }
    }

    var table: String {
        var lines = ["| question type | accuracy | correct / total |", "|---|---|---|"]
        let order = QuestionType.allCases.map(\.rawValue)
        for t in order where types[t] != nil {
            let c = types[t]!
            lines.append(String(format: "| %@ | %.1f%% | %d / %d |", t, 100 * Double(c.correct) / Double(max(1, c.total)), c.correct, c.total))
        }
        let all = types.values.reduce(Count()) { Count(correct: $0.correct + $1.correct, total: $0.total + $1.total) }
        lines.append(String(format: "| all | %.1f%% | %d / %d |", 100 * Double(all.correct) / Double(max(1, all.total)), all.correct, all.total))
        return lines.joined(separator: "\n")
    }
}
