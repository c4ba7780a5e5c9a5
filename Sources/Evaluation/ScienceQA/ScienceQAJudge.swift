import Foundation
import Logging

/// The paper's GPT-4 ensembles. A second model (GPT-4 in the paper; here the judge itself, text
/// only, unless its answers are given) answers every problem.
/// - "GPT-4 complement" (`eval_science_qa_gpt4.py`): the second model's letter, or the model's
///   where the second model's reply has no single "The answer is X.".
/// - "GPT-4 as the judge" (`eval_science_qa_gpt4_requery.py`): where the two letters differ, the
///   judge is asked again with the question and both answers and gives the final letter; a
///   reply without exactly one "The answer is X." keeps the model's answer.
/// The reference reads the second answers and the requeries from files made elsewhere: it has
/// no prompt for either, so `answerPrompt` and `requeryPrompt` are this package's wording. The
/// model's own letter is read with `eval_science_qa.py`'s rules (a bare letter, "X. ", or "The
/// answer is X."), where the reference's ensemble scripts read only "The answer is X." (its
/// ScienceQA model answered that way; LLaVA-1.5's answers are bare letters). Where the scripts
/// draw a random option (no letter, or one beyond the choices), the ask counts as wrong.
/// Both rounds are logged to resumable JSONL files.
public struct ScienceQAJudge {
    public struct Reply: Codable, Sendable, Equatable {
        public var questionID: String
        public var text: String
        enum CodingKeys: String, CodingKey { case questionID = "question_id", text }
        public init(questionID: String, text: String) { self.questionID = questionID; self.text = text }
    }

    public let judge: JudgeLLM
    public var parallel = 4
    public var logger = Logger(label: "llava.eval.scienceqa")
    public static let system = "You are a helpful assistant."

    public init(judge: JudgeLLM) { self.judge = judge }

    /// The second model's question: the same text as the model's, asking for the "The answer is X." form.
    public static func answerPrompt(_ p: ScienceQAProblem) -> String {
        ScienceQA.questionText(p) + "\nThink briefly, then end your reply with \"The answer is X.\" where X is the letter of the correct option."
    }

    /// The judge's question where the two answers disagree.
    public static func requeryPrompt(_ p: ScienceQAProblem, model: String, second: String) -> String {
        """
        Two assistants answered the multiple-choice question below and their answers differ.

        \(ScienceQA.questionText(p))

        [Assistant 1]
        \(model)

        [End of Assistant 1]

        [Assistant 2]
        \(second)

        [End of Assistant 2]

        Decide which option is correct, using the question and both answers, then end your reply with "The answer is X." where X is the letter of the correct option.
        """
    }

    public struct Outcome: Sendable {
        public var predictions: [String: Int]
        /// The complement: the second model's choice where it gave one, else the model's.
        public var complement: [String: Int] = [:]
        /// Problems where the two answers differed (the judge was asked).
        public var disagreements: Int
        /// Judge replies without a readable letter (the model's answer was kept).
        public var unreadable: Int
        public var secondModelCorrect: Int
    }

    /// Runs both rounds; `second` holds answers already known (e.g. GPT-4's outputs), the judge
    /// answers the rest (logged to `secondFile`); requeries are logged to `requeryFile`.
    public func run(_ problems: [ScienceQAProblem], modelAnswers: [String: String], second given: [String: String] = [:],
                    secondFile: URL, requeryFile: URL) async throws -> Outcome {
        var second = given
        let missing = problems.filter { second[$0.id] == nil }
        for (id, text) in try await ask(missing.map { ($0.id, Self.answerPrompt($0)) }, log: secondFile, what: "second answers") { second[id] = text }

        var outcome = Outcome(predictions: [:], disagreements: 0, unreadable: 0, secondModelCorrect: 0)
        var requeries: [(String, String)] = []
        for p in problems {
            let ours = ScienceQA.choiceIndex(ScienceQA.extractLetter(modelAnswers[p.id] ?? "FAILED"), choiceCount: p.choices.count)
            let theirs = ScienceQA.choiceIndex(ScienceQA.extractJudgeLetter(second[p.id] ?? ""), choiceCount: p.choices.count)
            if theirs == p.answer { outcome.secondModelCorrect += 1 }
            outcome.predictions[p.id] = ours
            outcome.complement[p.id] = ScienceQA.extractJudgeLetter(second[p.id] ?? "") == nil ? ours : theirs
            if ours != theirs {
                requeries.append((p.id, Self.requeryPrompt(p, model: modelAnswers[p.id] ?? "", second: second[p.id] ?? "")))
            }
        }
        outcome.disagreements = requeries.count
        let replies = try await ask(requeries, log: requeryFile, what: "judge requeries")
        for p in problems {
            guard let reply = replies[p.id] else { continue }
            let letter = ScienceQA.extractJudgeLetter(reply)
            let index = ScienceQA.choiceIndex(letter, choiceCount: p.choices.count)
            if letter == nil || index < 0 { outcome.unreadable += 1 } else { outcome.predictions[p.id] = index }
        }
        return outcome
    }

    /// Asks the judge each (id, prompt) not yet in `log`; returns every reply by id.
    private func ask(_ prompts: [(String, String)], log url: URL, what: String) async throws -> [String: String] {
        let file = ResumableJSONLines<Reply>(url: url)
        var replies: [String: String] = [:]
        for r in try file.load(logger: logger) { replies[r.questionID] = r.text }
        let todo = prompts.filter { replies[$0.0] == nil }
        guard !todo.isEmpty else {
            if !FileManager.default.fileExists(atPath: url.path) { try file.write([]) }
            return replies
        }
        logger.info("asking the judge for \(todo.count) \(what)")
        let handle = try file.appender()
        defer { try? handle.close() }
        let judge = self.judge
        try await forEachConcurrently(todo, limit: parallel, work: { id, prompt in
            Reply(questionID: id, text: try await judge.reply(system: Self.system, user: prompt))
        }, record: { reply in
            replies[reply.questionID] = reply.text
            try JSONLines.append(reply, to: handle)
        })
        return replies
    }
}
