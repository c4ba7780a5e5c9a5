import Foundation
import Hummingbird
import NIOCore

/// Server-sent events as OpenAI streams them: each event one `data: <json>` line and a blank
/// line, the stream closed by `data: [DONE]`.
///
/// ```swift
/// var events = ServerSentEvents(writer: writer)
/// try await events.send(chunk)      // data: {"object":"chat.completion.chunk",…}\n\n
/// try await events.sendDone()       // data: [DONE]\n\n
/// ```
struct ServerSentEvents {
    static let contentType = "text/event-stream"

    private var writer: any ResponseBodyWriter
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    init(writer: any ResponseBodyWriter) {
        self.writer = writer
    }

    /// One event whose data is `value` as JSON (one line: JSON escapes every newline).
    mutating func send(_ value: some Encodable) async throws {
        try await send(data: encoder.encode(value))
    }

    /// An error event: OpenAI's error object, for a failure after the stream has begun.
    mutating func send(_ error: APIError) async throws {
        try await send(data: error.body)
    }

    /// The `[DONE]` sentinel, then the end of the body.
    mutating func sendDone() async throws {
        try await send(data: Data("[DONE]".utf8))
        try await writer.finish(nil)
    }

    private mutating func send(data: Data) async throws {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(data.count + 8)
        buffer.writeString("data: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        try await writer.write(buffer)
    }
}
