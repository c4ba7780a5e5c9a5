import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import XCTest

/// An HTTP reply as a test reads it.
struct Reply {
    let status: Int
    let headers: HTTPHeaders
    let body: Data

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The `error` object of an error reply.
    var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
}

/// A streamed reply: every `data:` payload in order (`[DONE]` included as a string).
struct StreamReply {
    let status: Int
    let headers: HTTPHeaders
    let events: [String]

    /// The JSON chunks (everything but `[DONE]`).
    var chunks: [[String: Any]] {
        events.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    /// The answer's text: the `delta.content` of every chunk joined.
    var content: String {
        chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }.joined()
    }
}

/// Requests to a server under test over real HTTP, each bounded in time.
final class TestHTTPClient: @unchecked Sendable {
    let client: HTTPClient
    let timeout: TimeAmount

    init(timeout: TimeAmount = .seconds(120)) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = timeout
    }

    func shutdown() { try? client.syncShutdown() }

    func get(_ url: String, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return try await send(request)
    }

    /// POSTs `json` (a JSON-serialisable object) or raw `body` bytes.
    func post(_ url: String, json: Any? = nil, body: Data? = nil, headers: [(String, String)] = []) async throws -> Reply {
        try await send(postRequest(url, json: json, body: body, headers: headers))
    }

    /// POSTs `body` in chunks, without a Content-Length (`Transfer-Encoding: chunked`).
    func postChunked(_ url: String, body: Data) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        let pieces = stride(from: 0, to: body.count, by: 16_384).map { ByteBuffer(bytes: body[$0..<min($0 + 16_384, body.count)]) }
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        for piece in pieces { continuation.yield(piece) }
        continuation.finish()
        request.body = .stream(stream, length: .unknown)
        return try await send(request)
    }

    /// POSTs a streaming request and reads every event until the server ends the body.
    func stream(_ url: String, json: Any, headers: [(String, String)] = []) async throws -> StreamReply {
        let response = try await client.execute(try postRequest(url, json: json, body: nil, headers: headers), timeout: timeout)
        var reader = SSEReader()
        for try await buffer in response.body { reader.feed(buffer) }
        return StreamReply(status: Int(response.status.code), headers: response.headers, events: reader.events)
    }

    func postRequest(_ url: String, json: Any?, body: Data?, headers: [(String, String)]) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let data = try body ?? JSONSerialization.data(withJSONObject: json ?? [:])
        request.body = .bytes(ByteBuffer(bytes: data))
        return request
    }

    private func send(_ request: HTTPClientRequest) async throws -> Reply {
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
    }
}

/// Splits a server-sent event stream into its `data:` payloads, wherever the pieces break.
struct SSEReader {
    private var pending: [UInt8] = []   // bytes, so a character split across pieces stays whole
    private(set) var events: [String] = []

    mutating func feed(_ buffer: ByteBuffer) {
        pending += buffer.readableBytesView
        while let end = blankLine() {
            let block = String(decoding: pending[..<end], as: UTF8.self)
            pending.removeFirst(end + 2)
            let data = block.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) }.joined(separator: "\n")
            if !data.isEmpty { events.append(data) }
        }
    }

    private func blankLine() -> Int? {
        guard pending.count >= 2 else { return nil }
        return (0..<(pending.count - 1)).first { pending[$0] == 10 && pending[$0 + 1] == 10 }
    }
}
