import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// An OpenAI-compatible endpoint on 127.0.0.1 whose replies a test scripts: each request is
/// recorded and answered by the script (a chat reply, an error status with `Retry-After`, a
/// late reply). It can be stopped and started again on the same port, as a restarting server.
///
/// ```swift
/// let server = try await ScriptedOpenAIServer { request, index in
///     index == 0 ? .error(429, "slow down", retryAfter: "1") : .chat("Question:\nWhy?\n===\nAnswer:\nBecause.\n===")
/// }
/// // point a client at server.baseURL ("http://127.0.0.1:PORT/v1"), then:
/// await server.stop()
/// ```
public final class ScriptedOpenAIServer: @unchecked Sendable {
    /// What the script answers with.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
        /// Wait this long before answering (longer than a client's timeout: a hung server).
        public var delay: Duration

        public init(status: Int, headers: [String: String] = [:], body: String, delay: Duration = .zero) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
        }

        /// A chat completion whose first choice says `text`.
        public static func chat(_ text: String, promptTokens: Int = 100, completionTokens: Int = 20,
                                finishReason: String = "stop", delay: Duration = .zero) -> Reply {
            let object: [String: Any] = [
                "id": "chatcmpl-test", "object": "chat.completion", "model": "scripted",
                "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": finishReason]],
                "usage": ["prompt_tokens": promptTokens, "completion_tokens": completionTokens,
                          "total_tokens": promptTokens + completionTokens],
            ]
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return Reply(status: 200, body: String(decoding: data, as: UTF8.self), delay: delay)
        }

        /// An OpenAI-style error body with `status`, and `Retry-After` when given.
        public static func error(_ status: Int, _ message: String, retryAfter: String? = nil) -> Reply {
            let data = try! JSONSerialization.data(withJSONObject: ["error": ["message": message]])
            return Reply(status: status, headers: retryAfter.map { ["Retry-After": $0] } ?? [:],
                         body: String(decoding: data, as: UTF8.self))
        }
    }

    /// A request as received.
    public struct Request: Sendable {
        public let method: String
        public let path: String
        public let headers: [String: String]
        public let body: Data

        /// The chat-completions body, nil when it is not one.
        public var chat: ChatBody? { try? JSONDecoder().decode(ChatBody.self, from: body) }
    }

    /// The fields of a chat-completions request a test looks at.
    public struct ChatBody: Decodable, Sendable {
        public struct Message: Decodable, Sendable { public let role: String; public let content: String }
        public let model: String
        public let messages: [Message]
        public let seed: Int?
        public let temperature: Double?
    }

    /// Answers the `index`-th request (0-based, counted over the server's whole life).
    public typealias Script = @Sendable (Request, Int) -> Reply

    let script: Script
    private let lock = NSLock()
    private var received: [Request] = []
    private var serverChannel: Channel?
    private var connections: [ObjectIdentifier: Channel] = [:]
    /// The bound port (kept across `stop` and `start`).
    public private(set) var port: Int

    /// Starts listening on 127.0.0.1 (`port` 0: a free port).
    public init(port: Int = 0, script: @escaping Script) async throws {
        self.port = port
        self.script = script
        try await start()
    }

    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// Every request received so far, in order of arrival.
    public var requests: [Request] { lock.withLock { received } }

    /// Listens again on the same port after `stop`.
    public func start() async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(server: self))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        port = channel.localAddress?.port ?? port
        lock.withLock { serverChannel = channel }
    }

    /// Stops listening and drops every open connection, as a crashed server would.
    public func stop() async {
        let (server, open) = lock.withLock { () -> (Channel?, [Channel]) in
            defer { serverChannel = nil; connections = [:] }
            return (serverChannel, Array(connections.values))
        }
        for c in open { try? await c.close().get() }
        try? await server?.close().get()
    }

    private func track(_ channel: Channel) {
        let id = ObjectIdentifier(channel)
        lock.withLock { connections[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.lock.withLock { _ = self?.connections.removeValue(forKey: id) }
        }
    }

    /// Records a request and returns the script's reply.
    fileprivate func answer(_ request: Request) -> Reply {
        let index = lock.withLock { () -> Int in
            received.append(request)
            return received.count - 1
        }
        return script(request, index)
    }
}

/// Collects one request, asks the server's script, writes the reply (after its delay).
private final class Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: ScriptedOpenAIServer
    var head: HTTPRequestHead?
    var body = ByteBuffer()

    init(server: ScriptedOpenAIServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h; body.clear()
        case .body(var chunk): body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let request = ScriptedOpenAIServer.Request(method: "\(head.method)", path: head.uri, headers: headers,
                                                       body: Data(body.readableBytesView))
            let reply = server.answer(request)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let version = head.version
            if reply.delay == .zero {
                write(reply, version: version, context: context)
            } else {
                let ns = Int64(reply.delay / .nanoseconds(1))
                context.eventLoop.scheduleTask(in: .nanoseconds(ns)) {
                    let (handler, context) = bound.value
                    handler.write(reply, version: version, context: context)
                }
            }
        }
    }

    func write(_ reply: ScriptedOpenAIServer.Reply, version: HTTPVersion, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let bytes = ByteBuffer(string: reply.body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(bytes.readableBytes)")
        for (name, value) in reply.headers { headers.add(name: name, value: value) }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: reply.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
