import Foundation
import Language
import LLaVA
import Vision

/// What a request may ask of this server.
struct RequestLimits: Sendable {
    /// Positions one sequence may hold: the largest `max_tokens` accepted.
    var contextLength: Int
    /// The most pixels one image may declare.
    var maxImagePixels: Int
}

/// Translation of OpenAI's request into the engine's: every field checked, each refusal naming
/// the field in the request's own spelling.
extension ChatCompletionRequest {
    /// The most `stop` strings accepted, as OpenAI allows.
    static let maxStopSequences = 4

    /// The engine request this asks for, or the 400 for the first field that cannot be served.
    func completionRequest(limits: RequestLimits) throws -> CompletionRequest {
        try checkUnsupported()
        let parameters = try generationParameters(limits: limits)
        guard !messages.isEmpty else { throw APIError.invalidRequest("at least one message is required", param: "messages") }
        let chat = try messages.enumerated().map { try $0.element.chatMessage(index: $0.offset, limits: limits) }
        return CompletionRequest(messages: chat, parameters: parameters)
    }

    /// Whether the answer goes out as server-sent events.
    var isStreaming: Bool { stream ?? false }
    var includesUsageInStream: Bool { streamOptions?.includeUsage ?? false }

    private func checkUnsupported() throws {
        if let n, n != 1 { throw APIError.invalidRequest("only n = 1 is supported, got \(n)", param: "n", code: "invalid_value") }
        if logprobs == true { throw APIError.invalidRequest("logprobs are not supported", param: "logprobs", code: "invalid_value") }
        for (name, value) in [("frequency_penalty", frequencyPenalty), ("presence_penalty", presencePenalty)] {
            if let value, value != 0 {
                throw APIError.invalidRequest("is not supported (only 0); use repetition_penalty", param: name, code: "invalid_value")
            }
        }
    }

    private func generationParameters(limits: RequestLimits) throws -> GenerationParameters {
        let (maxName, requested) = maxCompletionTokens.map { ("max_completion_tokens", $0) } ?? ("max_tokens", maxTokens)
        let maxNewTokens = requested ?? limits.contextLength
        guard maxNewTokens >= 1 else {
            throw APIError.invalidRequest("must be at least 1, got \(maxNewTokens)", param: maxName, code: "invalid_value")
        }
        guard maxNewTokens <= limits.contextLength else {
            throw APIError.invalidRequest("\(maxNewTokens) is too large: this model's context is \(limits.contextLength) tokens",
                                          param: maxName, code: "invalid_value")
        }
        let sampling = try samplingParameters()
        let stops = stop?.strings ?? []
        guard stops.count <= Self.maxStopSequences, !stops.contains("") else {
            throw APIError.invalidRequest("up to \(Self.maxStopSequences) non-empty strings are allowed", param: "stop",
                                          code: "invalid_value")
        }
        return GenerationParameters(maxNewTokens: maxNewTokens, sampling: sampling, stopStrings: stops)
    }

    private func samplingParameters() throws -> SamplingParameters {
        let temperature = temperature ?? 1, topP = topP ?? 1, topK = topK ?? 0, penalty = repetitionPenalty ?? 1
        func refuse(_ param: String, _ rule: String, _ value: Any) -> APIError {
            .invalidRequest("must be \(rule), got \(value)", param: param, code: "invalid_value")
        }
        guard (0...2).contains(temperature) else { throw refuse("temperature", "between 0 and 2", temperature) }
        guard topP > 0 && topP <= 1 else { throw refuse("top_p", "in (0, 1]", topP) }
        guard topK >= 0 else { throw refuse("top_k", "at least 0", topK) }
        guard penalty > 0 else { throw refuse("repetition_penalty", "positive", penalty) }
        return SamplingParameters(temperature: Float(temperature), topK: topK, topP: Float(topP),
                                  repetitionPenalty: Float(penalty), seed: seed.map { UInt64(bitPattern: $0) })
    }
}

extension ChatCompletionRequest.Message {
    /// The engine's message: role checked, text parts joined by newlines, images decoded in order.
    func chatMessage(index: Int, limits: RequestLimits) throws -> ChatMessage {
        let role = try engineRole(param: "messages[\(index)].role")
        let param = "messages[\(index)].content"
        switch content {
        case nil:
            guard role == .assistant else { throw APIError.invalidRequest("this parameter is required", param: param) }
            return ChatMessage(role: role, text: "")
        case .text(let text)?:
            return ChatMessage(role: role, text: text)
        case .parts(let parts)?:
            var texts: [String] = [], images: [RGBImage] = []
            for (k, part) in parts.enumerated() {
                switch part.type {
                case "text":
                    guard let text = part.text else {
                        throw APIError.invalidRequest("a text part needs 'text'", param: "\(param)[\(k)].text")
                    }
                    texts.append(text)
                case "image_url":
                    guard let url = part.imageURL?.url else {
                        throw APIError.invalidRequest("an image part needs 'image_url'", param: "\(param)[\(k)].image_url")
                    }
                    images.append(try ImageDataURL.decode(url, param: "\(param)[\(k)].image_url", maxPixels: limits.maxImagePixels))
                default:
                    throw APIError.invalidRequest("unsupported content type '\(part.type)' (text, image_url)",
                                                  param: "\(param)[\(k)].type", code: "invalid_value")
                }
            }
            return ChatMessage(role: role, text: texts.joined(separator: "\n"), images: images)
        }
    }

    /// `developer` is OpenAI's newer name for the system role; tools are not served.
    private func engineRole(param: String) throws -> ChatMessage.Role {
        switch role {
        case "system", "developer": return .system
        case "user": return .user
        case "assistant": return .assistant
        default:
            throw APIError.invalidRequest("unsupported role '\(role)' (system, user, assistant)", param: param, code: "invalid_value")
        }
    }
}
