import Foundation
import OpenAIClient

/// A teacher's answer to one chat, with the tokens it cost.
public struct TeacherReply: Sendable, Equatable {
    public var text: String
    public var usage: TokenUsage
    /// "stop", or "length" when the reply was cut at the token limit.
    public var finishReason: String?

    public init(text: String, usage: TokenUsage = TokenUsage(), finishReason: String? = nil) {
        self.text = text
        self.usage = usage
        self.finishReason = finishReason
    }
}

/// A teacher that reads a chat (system message, few-shot turns, the image's context) and
/// answers it; the data engine runs many of these calls at once.
///
/// ```swift
/// let teacher: any ChatTeacher = SymbolicChatTeacher(SymbolicTeacher(seed: 1))
/// let reply = try await teacher.reply(to: prompts.messages(.conversation, context: context), seed: 7)
/// ```
public protocol ChatTeacher: Sendable {
    /// `seed` differs between attempts at one item, so a retried item can get a new reply.
    func reply(to messages: [ChatMessage], seed: Int) async throws -> TeacherReply
}

/// An LLM behind an OpenAI-compatible chat-completions endpoint.
public struct OpenAITeacher: ChatTeacher {
    public var client: ChatCompletionsClient
    public var model: String
    public var temperature: Double
    public var maxTokens: Int

    public init(client: ChatCompletionsClient, model: String, temperature: Double = 0.7, maxTokens: Int = 1024) {
        self.client = client
        self.model = model
        self.temperature = temperature
        self.maxTokens = maxTokens
    }

    public func reply(to messages: [ChatMessage], seed: Int) async throws -> TeacherReply {
        let response = try await client.complete(ChatCompletionRequest(
            model: model, messages: messages, temperature: temperature, maxTokens: maxTokens, seed: seed))
        return TeacherReply(text: response.text ?? "", usage: response.usage ?? TokenUsage(),
                            finishReason: response.finishReason)
    }
}

/// The rule-based `SymbolicTeacher` behind the chat interface (the synthetic world only).
public struct SymbolicChatTeacher: ChatTeacher {
    public var teacher: SymbolicTeacher
    public init(_ teacher: SymbolicTeacher) { self.teacher = teacher }

    public func reply(to messages: [ChatMessage], seed: Int) async throws -> TeacherReply {
        guard messages.count >= 2, messages[0].role == .system, let query = messages.last, query.role == .user else {
            throw TeacherError.unknownTask(systemPrefix: String((messages.first?.content ?? "").prefix(80)))
        }
        // [system, user, assistant, …, user, assistant, query]
        let fewShot = stride(from: 1, to: messages.count - 2, by: 2).map { (user: messages[$0].content, assistant: messages[$0 + 1].content) }
        return TeacherReply(text: try teacher.complete(system: messages[0].content, fewShot: fewShot, query: query.content),
                            finishReason: "stop")
    }
}
