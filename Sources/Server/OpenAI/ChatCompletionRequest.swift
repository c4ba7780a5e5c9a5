import Foundation

/// The body of `POST /v1/chat/completions`, as OpenAI defines it (the fields this server reads;
/// others are ignored, as OpenAI-compatible servers do).
///
/// ```json
/// {"model": "llava-builtin", "max_tokens": 64, "stream": true,
///  "messages": [{"role": "user", "content": [
///     {"type": "text", "text": "What is the shape of the object?"},
///     {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0…"}}]}]}
/// ```
struct ChatCompletionRequest: Decodable, Sendable {
    var model: String?
    var messages: [Message]
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var temperature: Double?
    var topP: Double?
    /// Not OpenAI's, but vLLM's and llama.cpp's: keep the K most likely tokens.
    var topK: Int?
    /// Not OpenAI's, but vLLM's and llama.cpp's: transformers' repetition penalty.
    var repetitionPenalty: Double?
    var seed: Int64?
    var stop: StopSequences?
    var stream: Bool?
    var streamOptions: StreamOptions?
    var n: Int?
    var frequencyPenalty: Double?
    var presencePenalty: Double?
    var logprobs: Bool?

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, seed, stop, stream, n, logprobs
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens", topP = "top_p", topK = "top_k"
        case repetitionPenalty = "repetition_penalty", streamOptions = "stream_options"
        case frequencyPenalty = "frequency_penalty", presencePenalty = "presence_penalty"
    }

    /// `stream_options`: `include_usage` adds a last chunk with the token counts.
    struct StreamOptions: Decodable, Sendable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }
}

extension ChatCompletionRequest {
    /// One message: its role (checked when the request is translated, to name the message at
    /// fault) and its content, absent for an assistant message that only called tools.
    struct Message: Decodable, Sendable {
        var role: String
        var content: Content?
    }

    /// A message's content: a string, or an array of text and image parts.
    enum Content: Decodable, Sendable {
        case text(String)
        case parts([ContentPart])

        init(from decoder: Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self = .text(text)
                return
            }
            guard var array = try? decoder.unkeyedContainer() else {
                throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath,
                    debugDescription: "content must be a string or an array of content parts"))
            }
            // Part by part, so that an error names the part at fault.
            var parts: [ContentPart] = []
            while !array.isAtEnd { parts.append(try array.decode(ContentPart.self)) }
            self = .parts(parts)
        }
    }

    /// `{"type": "text", "text": …}` or `{"type": "image_url", "image_url": {"url": …}}`.
    struct ContentPart: Decodable, Sendable {
        var type: String
        var text: String?
        var imageURL: ImageURL?

        enum CodingKeys: String, CodingKey { case type, text, imageURL = "image_url" }
    }

    /// An image's location: OpenAI's `{"url": …, "detail": …}`, or the bare URL string some
    /// clients send.
    struct ImageURL: Decodable, Sendable {
        var url: String

        enum CodingKeys: String, CodingKey { case url }

        init(from decoder: Decoder) throws {
            if let url = try? decoder.singleValueContainer().decode(String.self) {
                self.url = url
            } else {
                url = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .url)
            }
        }
    }

    /// `stop`: one string or a list of them.
    enum StopSequences: Decodable, Sendable {
        case one(String)
        case many([String])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                self = .one(one)
            } else {
                self = .many(try container.decode([String].self))
            }
        }

        var strings: [String] {
            switch self {
            case .one(let s): return [s]
            case .many(let list): return list
            }
        }
    }
}
