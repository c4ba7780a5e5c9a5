import Foundation

// The wire types of OpenAI's `POST /v1/chat/completions` (text only, not streamed). The API's
// snake_case names live only in `CodingKeys`.

/// One message of a chat: who says it and what.
public struct ChatMessage: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String

    public init(role: Role, content: String) { self.role = role; self.content = content }
    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: .system, content: text) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, content: text) }
    public static func assistant(_ text: String) -> ChatMessage { ChatMessage(role: .assistant, content: text) }
}

/// The body of a chat-completions request.
///
/// ```swift
/// let request = ChatCompletionRequest(model: "gpt-4o", messages: [.system("Be brief."), .user("Hi")],
///                                     temperature: 0.7, maxTokens: 256)
/// ```
public struct ChatCompletionRequest: Codable, Sendable, Equatable {
    public var model: String
    public var messages: [ChatMessage]
    public var temperature: Double?
    public var topP: Double?
    public var maxTokens: Int?
    /// Asks the server for repeatable sampling (not every server honours it).
    public var seed: Int?

    public init(model: String, messages: [ChatMessage], temperature: Double? = nil, topP: Double? = nil,
                maxTokens: Int? = nil, seed: Int? = nil) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, topP = "top_p", maxTokens = "max_tokens", seed
    }
}

/// Tokens a request consumed, as the server counts them.
public struct TokenUsage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int

    public init(promptTokens: Int = 0, completionTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    public var totalTokens: Int { promptTokens + completionTokens }

    public static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        TokenUsage(promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens)
    }

    public static func += (a: inout TokenUsage, b: TokenUsage) { a = a + b }

    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        promptTokens = try c.decodeIfPresent(Int.self, forKey: .promptTokens) ?? 0
        completionTokens = try c.decodeIfPresent(Int.self, forKey: .completionTokens) ?? 0
    }
}

/// The body of a chat-completions response; only what a client of this package reads.
public struct ChatCompletionResponse: Codable, Sendable, Equatable {
    public struct Choice: Codable, Sendable, Equatable {
        public struct Message: Codable, Sendable, Equatable {
            public var role: String?
            /// Null when the model answered with something other than text.
            public var content: String?
        }
        public var index: Int?
        public var message: Message
        /// "stop", "length" (cut at `max_tokens`), "content_filter", …
        public var finishReason: String?
        enum CodingKeys: String, CodingKey { case index, message, finishReason = "finish_reason" }
    }

    public var id: String?
    public var model: String?
    public var choices: [Choice]
    /// Absent on some servers; then nothing is counted.
    public var usage: TokenUsage?

    /// The first choice's text, nil when there is none.
    public var text: String? { choices.first?.message.content }

    /// The first choice's finish reason.
    public var finishReason: String? { choices.first?.finishReason }
}
