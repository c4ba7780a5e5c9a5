import Foundation
import LLaVA
import Language
import Vision

/// Something that answers a benchmark question: the model behind the inference engine, or (in
/// tests) a script. Called from several tasks at once.
public protocol Answerer: Sendable {
    /// Recorded as `model_id` in the answers file.
    var modelID: String { get }
    /// Questions worth keeping in flight at once.
    var parallel: Int { get }
    /// The answer's text, trimmed as the reference's `batch_decode(...).strip()`.
    func answer(_ text: String, image: RGBImage?) async throws -> String
    /// The answer to `text` after the earlier turns `history` (the image with the first of them).
    func answer(_ text: String, image: RGBImage?, history: [PriorTurn]) async throws -> String
}

extension Answerer {
    /// Answerers that keep no conversation take single questions only.
    public func answer(_ text: String, image: RGBImage?, history: [PriorTurn]) async throws -> String {
        guard history.isEmpty else { throw EvaluationError.invalidArgument("\(modelID) answers single questions only, not a conversation") }
        return try await answer(text, image: image)
    }
}

/// A question whose prompt (image positions included) does not fit the model's context. The
/// answering run records it with an empty answer (scored as wrong), marks it in the answer's
/// metadata (`overlong`), counts it, and goes on with the other questions.
public struct OverlongQuestion: Error, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Greedy answers from `InferenceEngine`: `parallel` questions decode together in one batch
/// (each row bit-identical to decoding alone, so answers do not depend on the batch).
public final class EngineAnswerer: Answerer {
    public let engine: InferenceEngine
    public let maxNewTokens: Int
    public var modelID: String { engine.model.name }
    public var parallel: Int { engine.parallel }

    public init(engine: InferenceEngine, maxNewTokens: Int) {
        self.engine = engine
        self.maxNewTokens = maxNewTokens
    }

    public func answer(_ text: String, image: RGBImage?) async throws -> String {
        try await answer(text, image: image, history: [])
    }

    public func answer(_ text: String, image: RGBImage?, history: [PriorTurn]) async throws -> String {
        let images = image.map { [$0] } ?? []
        var messages: [ChatMessage] = []
        for (i, turn) in history.enumerated() {
            messages.append(ChatMessage(role: .user, text: turn.user, images: i == 0 ? images : []))
            messages.append(ChatMessage(role: .assistant, text: turn.assistant))
        }
        messages.append(ChatMessage(role: .user, text: text, images: history.isEmpty ? images : []))
        let request = CompletionRequest(messages: messages, parameters: GenerationParameters(maxNewTokens: maxNewTokens))
        // The queue may be full when more tasks submit than it holds: wait and resubmit.
        while true {
            do {
                for try await event in try engine.submit(request) {
                    if case .finished(let summary) = event { return summary.text.trimmingCharacters(in: .whitespacesAndNewlines) }
                }
                return ""
            } catch EngineError.queueFull {
                try await Task.sleep(nanoseconds: 20_000_000)
            } catch let error as EngineError {
                // Thrown at submit, or through the stream when the prefill finds it too long.
                if case .contextLengthExceeded = error { throw OverlongQuestion(reason: error.description) }
                throw error
            }
        }
    }
}
