import Foundation
import Language
import LLaVA

/// `usage`: the request's token counts.
struct Usage: Codable, Sendable, Equatable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }

    init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        promptTokens = try c.decode(Int.self, forKey: .promptTokens)
        completionTokens = try c.decode(Int.self, forKey: .completionTokens)
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
    }
}

/// What one completion is called and when it was made: the same in every chunk of a stream.
struct CompletionIdentity: Sendable {
    let id: String
    let created: Int
    let model: String

    init(model: String) {
        id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        created = Int(Date().timeIntervalSince1970)
        self.model = model
    }

    /// The top-level keys of a completion and of a chunk.
    enum Keys: String, CodingKey { case id, object, created, model, choices, usage }

    /// Writes `id`, `object`, `created` and `model`, the head of every completion and chunk.
    func encode(object: String, into c: inout KeyedEncodingContainer<Keys>) throws {
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
    }
}

/// The answer of a request without `stream`: `object: "chat.completion"`.
struct ChatCompletion: Encodable {
    let identity: CompletionIdentity
    let content: String
    let finishReason: FinishReason
    let usage: Usage

    enum ChoiceKeys: String, CodingKey { case index, message, finishReason = "finish_reason" }
    enum MessageKeys: String, CodingKey { case role, content }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CompletionIdentity.Keys.self)
        try identity.encode(object: "chat.completion", into: &c)
        var choices = c.nestedUnkeyedContainer(forKey: .choices)
        var choice = choices.nestedContainer(keyedBy: ChoiceKeys.self)
        try choice.encode(0, forKey: .index)
        var message = choice.nestedContainer(keyedBy: MessageKeys.self, forKey: .message)
        try message.encode("assistant", forKey: .role)
        try message.encode(content, forKey: .content)
        try choice.encode(finishReason.openAI, forKey: .finishReason)
        try c.encode(usage, forKey: .usage)
    }
}

/// One event of a streamed answer: `object: "chat.completion.chunk"`. The first carries the
/// role, the middle ones the text, the last the finish reason; with `include_usage`, every
/// chunk has `usage: null` but a final one with no choices and the counts.
struct ChatCompletionChunk: Encodable {
    enum Payload {
        case role
        case content(String)
        case finish(FinishReason)
        case usage(Usage)
    }

    let identity: CompletionIdentity
    let payload: Payload
    /// Whether the client asked for `stream_options.include_usage` (then `usage` is always written).
    let includeUsage: Bool

    enum ChoiceKeys: String, CodingKey { case index, delta, finishReason = "finish_reason" }
    enum DeltaKeys: String, CodingKey { case role, content }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CompletionIdentity.Keys.self)
        try identity.encode(object: "chat.completion.chunk", into: &c)
        var choices = c.nestedUnkeyedContainer(forKey: .choices)
        if case .usage(let usage) = payload {
            try c.encode(usage, forKey: .usage)
            return
        }
        var choice = choices.nestedContainer(keyedBy: ChoiceKeys.self)
        try choice.encode(0, forKey: .index)
        var delta = choice.nestedContainer(keyedBy: DeltaKeys.self, forKey: .delta)
        switch payload {
        case .role:
            try delta.encode("assistant", forKey: .role)
            try delta.encode("", forKey: .content)
        case .content(let text):
            try delta.encode(text, forKey: .content)
        case .finish, .usage:
            break
        }
        if case .finish(let reason) = payload { try choice.encode(reason.openAI, forKey: .finishReason) }
        else { try choice.encodeNil(forKey: .finishReason) }
        if includeUsage { try c.encodeNil(forKey: .usage) }
    }
}

extension FinishReason {
    /// OpenAI's word: an end-of-sequence token or a stop string is `stop`, the token limit `length`.
    var openAI: String {
        switch self {
        case .endOfSequence, .stopString: return "stop"
        case .length: return "length"
        case .cancelled: return "cancelled"
        }
    }
}
