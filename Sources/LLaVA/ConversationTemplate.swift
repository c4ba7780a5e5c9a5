/// LLaVA's conversation templates: how a dialogue becomes the prompt text.
///
/// The strings are the reference's (`llava/conversation.py`) to the character, since a
/// wrong space changes the tokens. `llava_hf` is the chat template that llava-hf
/// checkpoints ship (`USER: <image>\n… ASSISTANT:` without a system prompt).
///
/// ```swift
/// var conversation = Conversation(template: .llavaV1)
/// conversation.append(user: "<image>\nWhat is in the picture?")
/// conversation.prompt   // "A chat between … USER: <image>\nWhat is in the picture? ASSISTANT:"
/// ```
public struct ConversationTemplate: Sendable, Equatable {
    /// How turns are joined: the reference's `SeparatorStyle`, which decides where `sep`,
    /// `sep2` and the role names go.
    public enum Style: Sendable, Equatable {
        /// `system sep role: message sep …` (v0).
        case single
        /// Alternating separators: `sep` after user turns, `sep2` after assistant turns (v1).
        case two
        /// `system sep role message sep` with the role carrying its own markup (ChatML / MPT).
        case mpt
        /// `[INST] <<SYS>>…<</SYS>> message [/INST] answer </s><s>[INST] …` (LLaMA-2, Mistral).
        case llama2
        /// Just the messages, each followed by its separator (stage-1 pretraining).
        case plain
    }

    public let name: String
    public let system: String
    public let roles: (user: String, assistant: String)
    public let style: Style
    public let sep: String
    public let sep2: String?

    public static func == (a: Self, b: Self) -> Bool { a.name == b.name }

    /// The string whose appearance ends an answer: the reference CLI's stop keyword (`sep2`
    /// for the two-separator style, `sep` otherwise). llava-hf's template relies on EOS alone.
    public var stopString: String? {
        if name == "llava_hf" { return nil }
        switch style {
        case .two, .llama2: return sep2
        case .plain: return nil
        default: return sep.isEmpty ? nil : sep
        }
    }

    private static let vicunaSystem = "A chat between a curious user and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the user's questions."
    private static let humanSystem = "A chat between a curious human and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the human's questions."

    public static let vicunaV1 = ConversationTemplate(name: "vicuna_v1", system: vicunaSystem, roles: ("USER", "ASSISTANT"),
                                                      style: .two, sep: " ", sep2: "</s>")
    public static let llavaV1 = ConversationTemplate(name: "llava_v1", system: humanSystem, roles: ("USER", "ASSISTANT"),
                                                     style: .two, sep: " ", sep2: "</s>")
    public static let llavaV0 = ConversationTemplate(name: "llava_v0", system: humanSystem, roles: ("Human", "Assistant"),
                                                     style: .single, sep: "###", sep2: nil)
    public static let plain = ConversationTemplate(name: "plain", system: "", roles: ("", ""), style: .plain, sep: "\n", sep2: nil)
    public static let llavaLlama2 = ConversationTemplate(
        name: "llava_llama_2",
        system: "You are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.",
        roles: ("USER", "ASSISTANT"), style: .llama2, sep: "<s>", sep2: "</s>")
    public static let mistralInstruct = ConversationTemplate(name: "mistral_instruct", system: "", roles: ("USER", "ASSISTANT"),
                                                             style: .llama2, sep: "", sep2: "</s>")
    public static let chatmlDirect = ConversationTemplate(name: "chatml_direct", system: "<|im_start|>system\nAnswer the questions.",
                                                          roles: ("<|im_start|>user\n", "<|im_start|>assistant\n"),
                                                          style: .mpt, sep: "<|im_end|>", sep2: nil)
    public static let mpt = ConversationTemplate(
        name: "mpt",
        system: "<|im_start|>system\nA conversation between a user and an LLM-based AI assistant. The assistant gives helpful and honest answers.",
        roles: ("<|im_start|>user\n", "<|im_start|>assistant\n"), style: .mpt, sep: "<|im_end|>", sep2: nil)
    /// llava-hf's shipped chat template: no system prompt, "USER: " / "ASSISTANT:", a space after each message.
    public static let llavaHF = ConversationTemplate(name: "llava_hf", system: "", roles: ("USER", "ASSISTANT"),
                                                     style: .two, sep: " ", sep2: " ")

    /// Templates by the reference's names (with its aliases).
    public static let all: [String: ConversationTemplate] = [
        "vicuna_v1": vicunaV1, "v1": vicunaV1, "llava_v1": llavaV1, "llava_v0": llavaV0, "plain": plain,
        "v0_plain": plain, "llava_llama_2": llavaLlama2, "mistral_instruct": mistralInstruct,
        "chatml_direct": chatmlDirect, "mistral_direct": chatmlDirect, "mpt": mpt, "llava_hf": llavaHF,
    ]
    public static var names: [String] { all.keys.sorted() }

    public static func named(_ name: String) throws -> ConversationTemplate {
        guard let t = all[name] else { throw LLaVAError.unknownConversationMode(name) }
        return t
    }

    /// The template a model's config names, or else the reference CLI's choice from its name.
    public static func automatic(for model: LLaVAModel) -> ConversationTemplate {
        if let name = model.configuration.conversationTemplate, let t = all[name] { return t }
        return automatic(modelName: model.name, layout: model.configuration.layout)
    }

    /// The reference CLI's choice from the model's name (`llava/serve/cli.py`); llava-hf
    /// checkpoints get their own shipped template.
    public static func automatic(modelName: String, layout: CheckpointLayout) -> ConversationTemplate {
        let n = modelName.lowercased()
        if n.contains("llama-2") { return llavaLlama2 }
        if n.contains("mistral") { return mistralInstruct }
        if n.contains("v1.6-34b") { return chatmlDirect }
        if layout == .llavaHF { return llavaHF }
        if n.contains("v1") { return llavaV1 }
        if n.contains("mpt") { return mpt }
        // LLaVA-1.5 checkpoints ("llava-v1.5-7b") contain "v1"; other names fall back to v0 as the reference does.
        return llavaV0
    }
}

/// A dialogue rendered through a template. An assistant message of nil is the open
/// slot the model fills next.
public struct Conversation: Sendable {
    public let template: ConversationTemplate
    public private(set) var messages: [(role: Role, text: String?)] = []

    /// Who speaks a message; the template maps it to its role name (`USER`, `Human`, …).
    public enum Role: Sendable { case user, assistant }

    public init(template: ConversationTemplate) { self.template = template }

    public mutating func append(user text: String) {
        messages.append((.user, text))
    }

    public mutating func append(assistant text: String?) {
        messages.append((.assistant, text))
    }

    /// The prompt with an open assistant turn at the end (the generation prompt).
    public var prompt: String {
        var m = messages
        if m.last?.role != .assistant || m.last?.text != nil { m.append((.assistant, nil)) }
        return render(m)
    }

    private func roleName(_ r: Role) -> String { r == .user ? template.roles.user : template.roles.assistant }

    private func render(_ messages: [(role: Role, text: String?)]) -> String {
        let t = template
        switch t.style {
        case .single, .two:
            let seps = [t.sep, t.style == .two ? (t.sep2 ?? t.sep) : t.sep]
            // An empty system prompt (llava_hf) leaves no leading separator.
            var out = t.system.isEmpty ? "" : t.system + seps[0]
            for (i, m) in messages.enumerated() {
                if let text = m.text { out += roleName(m.role) + ": " + text + seps[i % 2] } else { out += roleName(m.role) + ":" }
            }
            return out
        case .mpt:
            var out = t.system + t.sep
            for m in messages {
                if let text = m.text { out += roleName(m.role) + text + t.sep } else { out += roleName(m.role) }
            }
            return out
        case .plain:
            var out = t.system
            for (i, m) in messages.enumerated() {
                if let text = m.text { out += text + (i % 2 == 0 ? t.sep : (t.sep2 ?? t.sep)) }
            }
            return out
        case .llama2:
            return renderLlama2(messages)
        }
    }

    private func renderLlama2(_ messages: [(role: Role, text: String?)]) -> String {
        let t = template
        var out = ""
        for (i, m) in messages.enumerated() {
            guard var text = m.text else { continue }
            if i == 0 && !t.system.isEmpty { text = "<<SYS>>\n\(t.system)\n<</SYS>>\n\n" + text }
            if i % 2 == 0 { out += t.sep + "[INST] \(text) [/INST]" } else { out += " " + text + " " + (t.sep2 ?? "") }
        }
        // The reference strips leading separator characters (Python's lstrip of a character set).
        if !t.sep.isEmpty {
            let chars = Set(t.sep)
            out = String(out.drop(while: { chars.contains($0) }))
        }
        return out
    }
}
