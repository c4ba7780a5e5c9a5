import Foundation
import Hummingbird
import LLaVA
import NIOCore

/// The request context of every route: Hummingbird's core context plus what the handlers learn
/// about the request for its one log line (shared by reference, as contexts are copied).
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Filled by the completion handlers; read once the response has been written.
    public let outcome = RequestOutcome()
    /// Completes when the client's connection closes, however it closes.
    public let connectionClosed: EventLoopFuture<Void>

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        connectionClosed = source.channel.closeFuture
    }
}

/// What a completion request produced: its token counts and why it ended.
public final class RequestOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var summary: CompletionSummary?   // guarded by `lock`

    /// Records the engine's summary of the request's completion.
    func record(_ summary: CompletionSummary) {
        lock.lock()
        self.summary = summary
        lock.unlock()
    }

    /// The completion's summary, if the request ran one.
    public var completion: CompletionSummary? {
        lock.lock()
        defer { lock.unlock() }
        return summary
    }
}
