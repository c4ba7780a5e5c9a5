import Language
import Vision

/// One message of a chat, as an OpenAI-style API carries it: a role, its text and the images
/// it attaches (in order). Without `<image>` markers in `text`, a user message's images go
/// before its text, one line each, as `llava chat` puts them.
public struct ChatMessage: Sendable {
    public enum Role: String, Sendable { case system, user, assistant }

    public var role: Role
    public var text: String
    public var images: [RGBImage]

    public init(role: Role, text: String, images: [RGBImage] = []) {
        self.role = role
        self.text = text
        self.images = images
    }
}

/// What a client asks the engine for: a conversation to continue and how to generate.
public struct CompletionRequest: Sendable {
    public var messages: [ChatMessage]
    public var parameters: GenerationParameters

    public init(messages: [ChatMessage], parameters: GenerationParameters) {
        self.messages = messages
        self.parameters = parameters
    }
}

/// What the engine streams back for one request.
public enum CompletionEvent: Sendable {
    /// The prompt was read and prefilled: generation has started.
    case started(promptTokens: Int)
    /// The next piece of the answer's text.
    case text(String)
    /// The answer is complete; nothing follows.
    case finished(CompletionSummary)
}

/// The outcome of one request.
public struct CompletionSummary: Sendable {
    public var text: String
    public var tokenIDs: [Int]
    public var promptTokens: Int
    public var finishReason: FinishReason
    /// Seconds from submission to the end of the prompt's prefill (queueing, image encoding included).
    public var secondsToFirstToken: Double
    public var seconds: Double

    public var completionTokens: Int { tokenIDs.count }
}

/// Why the engine did not take or could not finish a request; each case says which input.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    /// A request that cannot be answered as written; `parameter` names the field.
    case invalidRequest(parameter: String, reason: String)
    /// The rendered prompt (image features included) does not fit the context.
    case contextLengthExceeded(promptTokens: Int, requested: Int, context: Int)
    /// As many requests wait as the engine allows.
    case queueFull(waiting: Int)
    /// The engine is draining for shutdown and takes no new work.
    case shuttingDown

    public var description: String {
        switch self {
        case .invalidRequest(let parameter, let reason):
            return "\(parameter): \(reason)"
        case .contextLengthExceeded(let prompt, let requested, let context):
            return "this model's context is \(context) positions; the prompt takes \(prompt) and at least \(requested) more are needed to answer"
        case .queueFull(let waiting):
            return "the server is busy: \(waiting) requests are already waiting"
        case .shuttingDown:
            return "the server is shutting down"
        }
    }
}

/// A moment's view of the engine, for metrics and health checks.
public struct EngineStatus: Sendable, Equatable {
    /// Requests accepted but not yet started.
    public var waiting: Int
    /// Sequences in the decode batch.
    public var active: Int
    /// The most sequences decoded together.
    public var parallel: Int
}
