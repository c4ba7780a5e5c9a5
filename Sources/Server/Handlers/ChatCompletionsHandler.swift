import Foundation
import Hummingbird
import LLaVA
import NIOCore

/// `POST /v1/chat/completions`: reads OpenAI's request, hands it to the engine and answers in
/// one JSON object or, with `stream`, as server-sent events flushed piece by piece.
struct ChatCompletionsHandler: Sendable {
    let engine: InferenceEngine
    let modelID: String
    let limits: RequestLimits
    let maxBodyBytes: Int
    let metrics: ServerMetrics

    func handle(_ request: Request, context: ServerContext) async throws -> Response {
        let chat = try await JSONBody.decode(ChatCompletionRequest.self, from: request, limit: maxBodyBytes)
        if let model = chat.model, model != modelID { throw APIError.modelNotFound(model, served: modelID) }
        let submitted: AsyncThrowingStream<CompletionEvent, Error>
        do {
            submitted = try engine.submit(try chat.completionRequest(limits: limits))
        } catch let error as EngineError {
            throw APIError(engine: error)
        }
        // A client that hangs up cancels the work on its behalf, wherever the request is.
        let events = connectionBound(submitted, closed: context.connectionClosed)
        let identity = CompletionIdentity(model: modelID)
        guard chat.isStreaming else { return try await complete(events, identity: identity, outcome: context.outcome) }
        return stream(events, identity: identity, includeUsage: chat.includesUsageInStream, outcome: context.outcome)
    }

    /// Waits for the whole answer: `object: "chat.completion"`.
    private func complete(_ events: AsyncThrowingStream<CompletionEvent, Error>, identity: CompletionIdentity,
                          outcome: RequestOutcome) async throws -> Response {
        var summary: CompletionSummary?
        do {
            for try await event in events { if case .finished(let s) = event { summary = s } }
        } catch {
            throw APIError(error)
        }
        guard let summary, summary.finishReason != .cancelled else { throw APIError.clientClosedRequest }
        record(summary, outcome: outcome)
        let answer = ChatCompletion(identity: identity, content: summary.text, finishReason: summary.finishReason,
                                    usage: Usage(promptTokens: summary.promptTokens, completionTokens: summary.completionTokens))
        return try JSONResponse.make(answer)
    }

    /// Streams the answer as `chat.completion.chunk` events: the role once the prompt is read
    /// (so its arrival times the first token), each piece of text as the engine flushes it, the
    /// finish reason, the usage if asked for, then `[DONE]`. A failure after the stream began is
    /// sent as an error event. A client that goes away ends the events (`connectionBound`).
    private func stream(_ events: AsyncThrowingStream<CompletionEvent, Error>, identity: CompletionIdentity,
                        includeUsage: Bool, outcome: RequestOutcome) -> Response {
        let body = ResponseBody { [self] writer in
            var sse = ServerSentEvents(writer: writer)
            func chunk(_ payload: ChatCompletionChunk.Payload) -> ChatCompletionChunk {
                ChatCompletionChunk(identity: identity, payload: payload, includeUsage: includeUsage)
            }
            var iterator = events.makeAsyncIterator()
            while true {
                let event: CompletionEvent?
                do { event = try await iterator.next() } catch {
                    try await sse.send(APIError(error))
                    break
                }
                guard let event else { break }
                switch event {
                case .started: try await sse.send(chunk(.role))
                case .text(let piece): try await sse.send(chunk(.content(piece)))
                case .finished(let summary):
                    record(summary, outcome: outcome)
                    try await sse.send(chunk(.finish(summary.finishReason)))
                    if includeUsage {
                        try await sse.send(chunk(.usage(Usage(promptTokens: summary.promptTokens,
                                                              completionTokens: summary.completionTokens))))
                    }
                }
            }
            try await sse.sendDone()
        }
        let headers: HTTPFields = [.contentType: ServerSentEvents.contentType, .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: body)
    }

    private func record(_ summary: CompletionSummary, outcome: RequestOutcome) {
        outcome.record(summary)
        metrics.record(summary)
    }
}
