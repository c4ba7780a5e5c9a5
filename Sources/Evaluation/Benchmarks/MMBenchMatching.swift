import Foundation
import Logging

/// MMBench's own scoring of free-form answers, as its evaluator (VLMEvalKit at c6bdffd3, the
/// version with "Z": `vlmeval/utils/matching_util.py` and `vlmeval/evaluate/multiple_choice.py`)
/// does it. A question's asks (its shifted copies, `index` mod 10⁶, and with `--all-rounds`
/// its rotations) form a circular group:
/// 1. each answer is read without an LLM (`canInfer`); a read letter that is wrong (or "Z")
///    fails the group, all letters right pass it;
/// 2. otherwise the unread answers go to a judge LLM with MMBench's matching prompt, up to three
///    times each, and the group passes when every letter is right. Without a judge the group
///    fails (the evaluator's `exact_matching` policy), and is counted.
/// Where the evaluator, after three unreadable judge replies, draws a random option, this counts
/// the ask as wrong (and counts it).
extension MMBench {
    /// `can_infer`: the option step, then the text step.
    public static func canInfer(_ answer: String, options: [String]) -> String? {
        inferOption(answer, choices: Array(letters.prefix(options.count))) ?? inferText(answer, options: options)
    }

    static let refusals = ["Sorry, I can't help with images of people yet.", "I can't process this file.",
                           "I'm sorry, but without the image provided", "Cannot determine the answer"]

    /// `can_infer_option`: a refusal reads as "Z"; with `.()[],:;!*#{}` turned into spaces,
    /// exactly one option letter among the words is that letter; no option letter but a "Z" is "Z".
    static func inferOption(_ answer: String, choices: [String]) -> String? {
        if answer.contains("Failed to obtain answer via API") { return nil }
        if refusals.contains(where: { answer.contains($0) }) { return "Z" }
        var cleaned = answer
        for c in ".()[],:;!*#{}" { cleaned = cleaned.replacingOccurrences(of: String(c), with: " ") }
        let words = Set(cleaned.split(whereSeparator: { $0.isWhitespace }).map(String.init))
        let named = choices.filter { words.contains($0) }
        if named.count == 1 { return named[0] }
        if named.isEmpty && words.contains("Z") { return "Z" }
        return nil
    }

    /// `can_infer_text`: exactly one option's text inside the answer (both lower-cased).
    static func inferText(_ answer: String, options: [String]) -> String? {
        let lower = answer.lowercased()
        let hits = zip(letters, options).filter { lower.contains($0.1.lowercased()) }.map(\.0)
        return hits.count == 1 ? hits[0] : nil
    }

    /// `build_prompt` (or `build_prompt_cn` for a question with CJK characters) with
    /// `build_option_str`'s "There are several options: \n" and one "X. option\n" line each.
    public static func matchingPrompt(question: String, options: [String], prediction: String) -> String {
        let optionText = "There are several options: \n" + zip(letters, options).map { "\($0). \($1)\n" }.joined()
        let cjk = question.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) }
        let lines: [String] = cjk ? [
            "你是一个帮助我匹配答案与单选题中多个选项的 AI 助手。你会被提供：一个问题，多个选项，一个答案。你的任务是找到与答案意义最相近的选项。",
            "如果所有选项的意义都与答案显著不同，则输出 Z。你应该输出一个单个的大写字母，例如 A, B, C, D（如果它们是有效选项），或 Z。例 1:",
            "问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 一只可爱的泰迪熊\n输出: A\n例 2: \n",
            "问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 蜘蛛\n输出: Z\n例 3: \n",
            "问题: \(question)?\n选项: \(optionText)\n答案: \(prediction)\n输出: ",
        ] : [
            "You are an AI assistant who will help me to match an answer with several options of a single-choice question. ",
            "You are provided with a question, several options, and an answer, and you need to find which option is most similar to the answer. ",
            "If the meaning of all options are significantly different from the answer, output Z. ",
            "Your should output a single uppercase character in A, B, C, D (if they are valid options), and Z. \n",
            "Example 1: \nQuestion: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n",
            "Answer: a cute teddy bear\nYour output: A\nExample 2: \n",
            "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\nAnswer: Spider\nYour output: Z\n",
            "Example 3: \nQuestion: \(question)?\nOptions: \(optionText)\nAnswer: \(prediction)\nYour output: ",
        ]
        return lines.joined()
    }

    public struct Scores: Codable, Sendable, Equatable {
        /// Circular: every ask of a question right.
        public var circularCorrect = 0, questions = 0
        /// Each ask on its own (letters read or matched as for the circular score).
        public var singleCorrect = 0, asks = 0
        /// Asks whose answer `canInfer` could not read.
        public var unmatched = 0
        /// Of those, read from a judge reply; still unread after every judge attempt.
        public var judgeMatched = 0, judgeFailed = 0
        /// Questions failed because an answer needed the judge and there was none.
        public var failedWithoutJudge = 0
        public var byCategory: [String: [Int]] = [:]   // [correct, total], circular
    }

    /// One ask: the answer, the letter it should name, and what `canInfer` read.
    struct Ask: Sendable {
        var id: String, question: String, options: [String], answer: String, truth: String, read: String?
    }

    /// The circular groups, in order of first appearance; throws for a missing answer.
    static func groups(_ questions: [Question], answers: [String: EvaluationAnswer], rotate: Bool) throws -> [(category: String, asks: [Ask])] {
        var order: [Int] = []
        var groups: [Int: (String, [Ask])] = [:]
        for q in questions.sorted(by: { $0.index < $1.index }) {
            guard let truth = q.answer else { continue }
            for r in 0..<(rotate ? q.options.count : 1) {
                guard let a = answers["\(q.index)/\(r)"] else { throw EvaluationError.invalidArgument("MMBench index \(q.index) round \(r) has no answer") }
                let rotated = Array(q.options[r...] + q.options[..<r])
                let ask = Ask(id: "\(q.index)/\(r)", question: q.question, options: rotated, answer: a.text,
                              truth: rotatedAnswer(truth, optionCount: q.options.count, round: r), read: canInfer(a.text, options: rotated))
                let key = q.index % 1_000_000
                if groups[key] == nil { order.append(key); groups[key] = (q.category ?? "", []) }
                groups[key]!.1.append(ask)
            }
        }
        return order.map { (category: groups[$0]!.0, asks: groups[$0]!.1) }
    }

    /// Scores without a judge: a group that needs one fails.
    public static func score(_ questions: [Question], answers: [String: EvaluationAnswer], rotate: Bool) throws -> Scores {
        tally(try groups(questions, answers: answers, rotate: rotate), judged: nil)
    }

    /// `judged`: letters the judge gave by ask id (nil: no judge; a missing id: it never gave one).
    static func tally(_ groups: [(category: String, asks: [Ask])], judged: [String: String]?) -> Scores {
        var s = Scores()
        for (category, asks) in groups {
            let prefetchWrong = asks.contains { $0.read != nil && $0.read != $0.truth }
            let needsJudge = asks.contains { $0.read == nil }
            var right = !prefetchWrong
            for a in asks {
                s.asks += 1
                var letter = a.read
                if letter == nil {
                    s.unmatched += 1
                    if let judged, !prefetchWrong {   // a group already failed is not sent to the judge
                        letter = judged[a.id]
                        if letter == nil { s.judgeFailed += 1 } else { s.judgeMatched += 1 }
                    }
                }
                if letter == a.truth { s.singleCorrect += 1 } else { right = false }
            }
            if needsJudge && judged == nil && !prefetchWrong { s.failedWithoutJudge += 1 }
            s.questions += 1
            if right { s.circularCorrect += 1 }
            var c = s.byCategory[category, default: [0, 0]]
            c[0] += right ? 1 : 0
            c[1] += 1
            s.byCategory[category] = c
        }
        return s
    }
}

/// The judge step of MMBench's matching: asks the judge about every unread answer of a group
/// that no read letter has already failed, up to `attempts` replies each, without a system
/// message (MMBench's evaluator sends the prompt alone); replies are appended to a resumable
/// log, so a second run asks only what is missing.
public struct MMBenchMatcher {
    public struct Record: Codable, Sendable, Equatable {
        public var questionID: String
        public var replies: [String]
        public var letter: String?
        enum CodingKeys: String, CodingKey { case questionID = "question_id", replies, letter }
    }

    public let judge: JudgeLLM
    public var attempts = 3
    public var parallel = 4
    public var logger = Logger(label: "llava.eval.mmbench")

    public init(judge: JudgeLLM) { self.judge = judge }

    public func score(_ questions: [MMBench.Question], answers: [String: EvaluationAnswer], rotate: Bool, log url: URL) async throws -> MMBench.Scores {
        let groups = try MMBench.groups(questions, answers: answers, rotate: rotate)
        let pending = groups.filter { g in !g.asks.contains { $0.read != nil && $0.read != $0.truth } }.flatMap(\.asks).filter { $0.read == nil }
        let file = ResumableJSONLines<Record>(url: url)
        var records: [String: Record] = [:]
        for r in try file.load(logger: logger) { records[r.questionID] = r }
        let todo = pending.filter { records[$0.id] == nil }
        if !todo.isEmpty {
            logger.info("asking the judge to match \(todo.count) answers to options")
            let handle = try file.appender()
            defer { try? handle.close() }
            let (judge, attempts, logger) = (self.judge, max(1, self.attempts), self.logger)
            try await forEachConcurrently(todo, limit: parallel, work: { ask in
                var replies: [String] = []
                let prompt = MMBench.matchingPrompt(question: ask.question, options: ask.options, prediction: ask.answer)
                while replies.count < attempts {
                    let reply = try await judge.reply(system: "", user: prompt)
                    replies.append(reply)
                    if let letter = MMBench.canInfer(reply, options: ask.options) { return Record(questionID: ask.id, replies: replies, letter: letter) }
                    logger.warning("MMBench \(ask.id): judge reply \(replies.count)/\(attempts) names no option")
                }
                return Record(questionID: ask.id, replies: replies, letter: nil)
            }, record: { r in
                records[r.questionID] = r
                try JSONLines.append(r, to: handle)
            })
        }
        return MMBench.tally(groups, judged: records.compactMapValues(\.letter))
    }
}
