import Foundation
import DataGeneration
import OpenAIClient

/// A text-only LLM that judges answers: GPT-4 in the papers, here any OpenAI-compatible
/// endpoint (`llava serve` included). Called from several tasks at once.
public protocol JudgeLLM: Sendable {
    /// The judge's reply to `user`; an empty `system` sends no system message.
    func reply(system: String, user: String) async throws -> String
}

/// A judge that is any chat teacher of the data engine: `OpenAITeacher` for an
/// OpenAI-compatible endpoint (its client retries transport errors, 429 and 5xx).
///
/// ```swift
/// let judge = TeacherJudge(OpenAITeacher(client: client, model: "gpt-4-0314", temperature: 0.2))
/// let review = try await judge.reply(system: LLaVABench.judgeSystem, user: content)
/// ```
public struct TeacherJudge: JudgeLLM {
    public let teacher: any ChatTeacher
    /// Sent with every request (servers that honour it repeat their replies).
    public var seed: Int

    public init(_ teacher: any ChatTeacher, seed: Int = 0) {
        self.teacher = teacher
        self.seed = seed
    }

    public func reply(system: String, user: String) async throws -> String {
        try await teacher.reply(to: (system.isEmpty ? [] : [.system(system)]) + [.user(user)], seed: seed).text
    }
}

/// Runs `work` over `inputs` with at most `limit` at once, handing each result to `record` (on
/// one task, in completion order).
func forEachConcurrently<Input: Sendable, Output: Sendable>(
    _ inputs: [Input], limit: Int, work: @escaping @Sendable (Input) async throws -> Output,
    record: (Output) throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Output.self) { group in
        var next = 0
        while next < inputs.count && next < max(1, limit) {
            let input = inputs[next]
            group.addTask { try await work(input) }
            next += 1
        }
        for try await output in group {
            try record(output)
            if next < inputs.count {
                let input = inputs[next]
                group.addTask { try await work(input) }
                next += 1
            }
        }
    }
}
