import Foundation
import Hummingbird
import LLaVA
import NIOCore

/// The request context of every route: Hummingbird's core context plus what the handlers learn
/// about the request for its one log line (shared by reference, as contexts are copied).
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Filled by the completion handlers; read once the response has been written.
    let outcome = RequestOutcome()
    /// Completes when the client's connection closes, however it closes.
    let connectionClosed: EventLoopFuture<Void>

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        connectionClosed = source.channel.closeFuture
    }
}

/// What a completion request produced: its token counts and why it ended.
final class RequestOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var summary: CompletionSummary?   // guarded by `lock`

    /// Records the engine's summary of the request's completion.
    func record(_ summary: CompletionSummary) {
        lock.lock()
        self.summary = summary
        lock.unlock()
    }

    /// The completion's summary, if the request ran one.
    var completion: CompletionSummary? {
        lock.lock()
        defer { lock.unlock() }
        return summary
    }
}
