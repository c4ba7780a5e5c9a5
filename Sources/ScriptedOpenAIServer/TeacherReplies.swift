import Foundation

/// Replies a well-behaved teacher LLM would give to the data engine's requests, so tests can
/// script a teacher without a model. The kind is read from the system message.
public enum TeacherReplies {
    public enum Kind: String, Sendable { case conversation, detail, complex }

    /// The kind a data-engine request asks for.
    public static func kind(of request: ScriptedOpenAIServer.Request) -> Kind? {
        guard let system = request.chat?.messages.first(where: { $0.role == "system" })?.content.lowercased() else { return nil }
        if system.contains("conversation") { return .conversation }
        if system.contains("ask one question") { return .complex }
        return .detail
    }

    /// The last user message: the image's context.
    public static func context(of request: ScriptedOpenAIServer.Request) -> String {
        request.chat?.messages.last(where: { $0.role == "user" })?.content ?? ""
    }

    /// A valid reply of the requested kind that repeats the context's first line.
    public static func valid(for request: ScriptedOpenAIServer.Request, delay: Duration = .zero) -> ScriptedOpenAIServer.Reply {
        let first = context(of: request).split(separator: "\n").first.map(String.init) ?? "something"
        switch kind(of: request) ?? .detail {
        case .conversation:
            return .chat("Question:\nWhat is happening in the picture?\n===\nAnswer:\n\(first)\n===\nQuestion:\nIs it daytime?\n===\nAnswer:\nYes, it is daytime.\n===",
                         delay: delay)
        case .detail:
            return .chat("The picture shows this scene. \(first)", delay: delay)
        case .complex:
            return .chat("Question:\nWhat might happen next?\n===\nAnswer:\n\(first) So the scene will go on calmly.\n===", delay: delay)
        }
    }
}
