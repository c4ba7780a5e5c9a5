import Foundation
import OpenAIClient

/// A text-only LLM that judges answers: GPT-4 in the papers, here any OpenAI-compatible
/// endpoint (`llava serve` included). Called from several tasks at once.
public protocol JudgeLLM: Sendable {
    func reply(system: String, user: String) async throws -> String
}

/// A judge behind an OpenAI-compatible `chat/completions` API. Transport errors, 429 and 5xx
/// are retried by the client; the reply's text is returned as is.
public struct OpenAIJudge: JudgeLLM {
    public let client: ChatCompletionsClient
    public var model: String
    /// The reference's review temperature is 0.2; 0 makes a run repeatable.
    public var temperature: Double
    public var maxTokens: Int

    public init(client: ChatCompletionsClient, model: String, temperature: Double = 0.2, maxTokens: Int = 1024) {
        self.client = client
        self.model = model
        self.temperature = temperature
        self.maxTokens = maxTokens
    }

    public func reply(system: String, user: String) async throws -> String {
        let request = ChatCompletionRequest(model: model, messages: [.system(system), .user(user)],
                                            temperature: temperature, maxTokens: maxTokens)
        return try await client.complete(request).text ?? ""
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
