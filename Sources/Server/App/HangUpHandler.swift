import NIOCore

/// Closes a connection as soon as its client stops sending, so that what it asked for is
/// cancelled at once: a request still waiting for a slot leaves the queue, an answer being
/// prepared stops at the next step.
///
/// Hummingbird keeps a half-closed connection open to write its answer. A chat client does not
/// half-close and then wait (nor does curl, a browser or OpenAI's SDK), so here the end of the
/// client's input means that the client has gone.
final class HangUpHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    /// Passed on untouched; the type is never unwrapped.
    typealias InboundIn = Never

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }
}
