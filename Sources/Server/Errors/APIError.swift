import Foundation
import Hummingbird

/// An error as OpenAI's API reports it: an HTTP status and the body
/// `{"error": {"message": …, "type": …, "param": …, "code": …}}`.
///
/// Every refusal of the server is one of these, so a client written for OpenAI reads it as it
/// reads OpenAI's own:
/// ```swift
/// throw APIError.invalidRequest("must be at most 2, got 7", param: "temperature")
/// // 400 {"error":{"message":"temperature: must be at most 2, got 7","type":"invalid_request_error","param":"temperature","code":null}}
/// ```
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's error class: `invalid_request_error`, `authentication_error`, `server_error`, …
    public var type: String
    /// The request field at fault, in the request's own spelling (`messages[0].content`).
    public var param: String?
    /// A machine-readable reason (`context_length_exceeded`, `model_not_found`, …).
    public var code: String?
    /// Seconds a client should wait before trying again, sent as `Retry-After`.
    public var retryAfter: Int?

    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil,
                code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(type)\(code.map { " (\($0))" } ?? ""): \(message)" }

    // MARK: - The errors the server gives

    /// 400: the request cannot be answered as written; the message leads with `param`.
    public static func invalidRequest(_ reason: String, param: String?, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: param.map { "\($0): \(reason)" } ?? reason,
                 type: "invalid_request_error", param: param, code: code)
    }

    /// 401: `--api-key` is set and the request's `Authorization: Bearer …` is missing or wrong.
    public static func invalidAPIKey(provided: Bool) -> APIError {
        APIError(status: .unauthorized,
                 message: provided ? "Incorrect API key provided." : "You didn't provide an API key: send 'Authorization: Bearer KEY'.",
                 type: "invalid_request_error", code: "invalid_api_key")
    }

    /// 404: the request names a model this server does not serve.
    public static func modelNotFound(_ requested: String, served: String) -> APIError {
        APIError(status: .notFound, message: "The model '\(requested)' does not exist; this server serves '\(served)'.",
                 type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    /// 404: no route answers this method and path.
    public static func routeNotFound(method: String, path: String) -> APIError {
        APIError(status: .notFound, message: "Unknown request URL: \(method) \(path).",
                 type: "invalid_request_error", code: "unknown_url")
    }

    /// 413: the body is larger than `--max-body-bytes`.
    public static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, message: "The request body exceeds this server's limit of \(limit) bytes.",
                 type: "invalid_request_error", code: "request_too_large")
    }

    /// 503: every slot is busy and the queue is full; try again shortly.
    public static func overloaded(waiting: Int) -> APIError {
        APIError(status: .serviceUnavailable,
                 message: "The server is busy: \(waiting) requests are already waiting. Please retry shortly.",
                 type: "server_error", code: "server_overloaded", retryAfter: 1)
    }

    /// 503: the server is draining for shutdown.
    public static let shuttingDown = APIError(status: .serviceUnavailable, message: "The server is shutting down.",
                                              type: "server_error", code: "shutting_down")

    /// 499 (nginx's code, for the log): the client closed the connection before its answer was ready.
    public static let clientClosedRequest = APIError(status: HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"),
                                                     message: "The client closed the connection before the answer was ready.",
                                                     type: "invalid_request_error", code: "client_closed_request")

    /// 500: something failed that the request could not have caused.
    public static func internalError(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error")
    }
}

// MARK: - The body

extension APIError {
    /// The JSON body, `{"error": {…}}`, with `param` and `code` written as `null` when absent.
    public var body: Data {
        // Sorted keys keep the body stable for logs and tests.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(Envelope(error: self))) ?? Data(#"{"error":{"message":"error"}}"#.utf8)
    }

    /// The HTTP response carrying this error.
    public var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    private struct Envelope: Encodable {
        let error: APIError

        func encode(to encoder: Encoder) throws {
            var outer = encoder.container(keyedBy: Key.self)
            var inner = outer.nestedContainer(keyedBy: Key.self, forKey: .error)
            try inner.encode(error.message, forKey: .message)
            try inner.encode(error.type, forKey: .type)
            try inner.encode(error.param, forKey: .param)   // nil encodes as null, as OpenAI writes it
            try inner.encode(error.code, forKey: .code)
        }

        enum Key: String, CodingKey { case error, message, type, param, code }
    }
}
