import Vision

/// A chat request rendered as the model reads it: the template applied exactly as `llava chat`
/// applies it, the input items (tokens and image positions) and the images in prompt order.
public struct ChatPrompt: Sendable {
    public let text: String
    public let items: [InputItem]
    public let images: [RGBImage]
    /// The template's own stop string (the reference CLI's stop keyword), if it has one.
    public let stopString: String?

    /// Renders `messages` through `template`. System messages (at the start) replace the
    /// template's system prompt; the rest must alternate user, assistant, …, ending with a user
    /// message, as every template here renders turns in pairs.
    public init(messages: [ChatMessage], template: ConversationTemplate, encoder: PromptEncoder) throws {
        let systems = messages.prefix { $0.role == .system }
        let turns = messages.dropFirst(systems.count)
        let t = systems.isEmpty ? template : template.replacingSystem(systems.map(\.text).joined(separator: "\n"))
        var conversation = Conversation(template: t)
        var images: [RGBImage] = []
        for (i, m) in turns.enumerated() {
            let expected: ChatMessage.Role = i % 2 == 0 ? .user : .assistant
            guard m.role == expected else {
                throw EngineError.invalidRequest(parameter: "messages[\(systems.count + i)].role",
                    reason: "expected '\(expected.rawValue)', found '\(m.role.rawValue)' (after any system messages, turns alternate user, assistant, …)")
            }
            if m.role == .assistant {
                guard m.images.isEmpty else {
                    throw EngineError.invalidRequest(parameter: "messages[\(systems.count + i)].content", reason: "only user messages may carry images")
                }
                conversation.append(assistant: m.text)
            } else {
                conversation.append(user: PromptEncoder.placingImages(m.images.count, before: m.text))
                images += m.images
            }
        }
        guard turns.last?.role == .user else {
            throw EngineError.invalidRequest(parameter: "messages", reason: "the last message must be from the user")
        }
        text = conversation.prompt
        do {
            items = try encoder.encode(text, imageCount: images.count)
        } catch let error as LLaVAError {
            throw EngineError.invalidRequest(parameter: "messages", reason: "\(error)")
        }
        self.images = images
        stopString = t.stopString
    }
}

extension ConversationTemplate {
    /// The same template with another system prompt, in the template's own markup.
    public func replacingSystem(_ text: String) -> ConversationTemplate {
        let system = style == .mpt ? "<|im_start|>system\n" + text : text
        return ConversationTemplate(name: name, system: system, roles: roles, style: style, sep: sep, sep2: sep2)
    }
}
