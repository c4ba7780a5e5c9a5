import Foundation

/// Why a chat-completions call failed.
public enum OpenAIClientError: Error, CustomStringConvertible, Equatable {
    /// The base URL cannot be used.
    case invalidURL(String)
    /// 401 or 403: the key is missing, wrong or not allowed. Retrying cannot help.
    case unauthorized(url: String, status: Int, message: String)
    /// 404: wrong URL or unknown model. Retrying cannot help.
    case notFound(url: String, message: String)
    /// Another 4xx: the server refuses this request (too long, bad parameter).
    case rejected(status: Int, message: String)
    /// A success status whose body is not a chat completion.
    case malformedResponse(reason: String, body: String)
    /// Every attempt met a timeout, a transport error, 429 or 5xx.
    case retriesExhausted(attempts: Int, lastFailure: String)

    /// Whether the whole run should stop (no other request can fare better).
    public var stopsRun: Bool {
        switch self {
        case .invalidURL, .unauthorized, .notFound, .retriesExhausted: return true
        case .rejected, .malformedResponse: return false
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let u):
            return "invalid teacher URL '\(u)': expected http(s)://host[:port]/path, e.g. http://127.0.0.1:8080/v1"
        case .unauthorized(let url, let status, let message):
            return "\(url) answered \(status) (unauthorized): \(message) — check the API key (--api-key-env)"
        case .notFound(let url, let message):
            return "\(url) answered 404 (not found): \(message) — check the URL and the model name"
        case .rejected(let status, let message):
            return "the server refused the request (\(status)): \(message)"
        case .malformedResponse(let reason, let body):
            return "the response is not a chat completion (\(reason)): \(body.prefix(300))"
        case .retriesExhausted(let attempts, let last):
            return "gave up after \(attempts) attempts; the last failure: \(last)"
        }
    }
}
