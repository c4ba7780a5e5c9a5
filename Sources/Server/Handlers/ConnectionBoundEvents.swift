import LLaVA
import NIOCore

/// The engine's events for one request, ended as soon as the client's connection closes, even
/// while nothing is being written to it (the request still waiting for a slot, or a whole
/// answer being prepared). Ending them drops the engine's stream, which cancels the request:
/// it leaves the queue, or frees its slot at the next step.
func connectionBound(_ events: AsyncThrowingStream<CompletionEvent, Error>,
                     closed: EventLoopFuture<Void>) -> AsyncThrowingStream<CompletionEvent, Error> {
    AsyncThrowingStream { continuation in
        let relay = Task {
            do {
                for try await event in events { continuation.yield(event) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in relay.cancel() }
        closed.whenComplete { _ in relay.cancel() }
    }
}
