import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A client for any OpenAI-compatible `chat/completions` endpoint (OpenAI, vLLM, llama.cpp's
/// server, Ollama, `llava serve`). Each call retries on its own: timeouts, transport errors (a
/// server that is down or restarting), 429 and 5xx wait with exponential backoff and jitter, or as
/// long as `Retry-After` says; 401, 403 and 404 fail at once.
///
/// Safe to call from many tasks at once; `maxConnections` bounds the connections it opens.
///
/// ```swift
/// let client = try ChatCompletionsClient(configuration: .init(baseURL: "http://127.0.0.1:8080/v1"))
/// let reply = try await client.complete(ChatCompletionRequest(model: "llava", messages: [.user("Hi")]))
/// print(reply.text ?? "", reply.usage?.totalTokens ?? 0)
/// try await client.shutdown()
/// ```
public final class ChatCompletionsClient: Sendable {
    public struct Configuration: Sendable {
        /// The API's base, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended
        /// unless the URL already ends with it.
        public var baseURL: String
        /// Sent as `Authorization: Bearer …` when set.
        public var apiKey: String?
        /// One attempt's limit, from sending the request to the last byte of the reply.
        public var requestTimeout: Duration
        /// How long an attempt keeps trying to connect (a server that is down costs this much
        /// per attempt).
        public var connectTimeout: Duration
        public var retry: RetryPolicy
        /// Connections open to the server at most (requests beyond wait for one).
        public var maxConnections: Int

        public init(baseURL: String, apiKey: String? = nil, requestTimeout: Duration = .seconds(300),
                    connectTimeout: Duration = .seconds(10), retry: RetryPolicy = RetryPolicy(), maxConnections: Int = 8) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.requestTimeout = requestTimeout
            self.connectTimeout = connectTimeout
            self.retry = retry
            self.maxConnections = maxConnections
        }
    }

    /// The full URL requests go to.
    public let endpoint: String
    public let configuration: Configuration
    let http: HTTPClient
    let logger: Logger
    /// Replies larger than this are refused (a teacher reply is a few kilobytes).
    static let maxResponseBytes = 16 << 20

    public init(configuration: Configuration, logger: Logger = Logger(label: "llava.openai")) throws {
        self.endpoint = try Self.endpoint(for: configuration.baseURL)
        self.configuration = configuration
        self.logger = logger
        var http = HTTPClient.Configuration()
        http.timeout = .init(connect: Self.timeAmount(configuration.connectTimeout))
        http.connectionPool = .init(idleTimeout: .seconds(60),
                                    concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, configuration.maxConnections))
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http)
    }

    /// `base` + `/chat/completions`, checked.
    static func endpoint(for base: String) throws -> String {
        let trimmed = base.trimmingCharacters(in: .whitespaces)
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", url.host?.isEmpty == false else {
            throw OpenAIClientError.invalidURL(base)
        }
        var s = trimmed
        while s.hasSuffix("/") { s.removeLast() }
        return s.hasSuffix("/chat/completions") ? s : s + "/chat/completions"
    }

    static func timeAmount(_ d: Duration) -> TimeAmount { .nanoseconds(Int64(d / .nanoseconds(1))) }

    /// Closes the connections. Call once, when done.
    public func shutdown() async throws { try await http.shutdown() }

    /// Sends `request`, retrying as the policy says, and returns the decoded reply.
    public func complete(_ request: ChatCompletionRequest) async throws -> ChatCompletionResponse {
        let body = try JSONEncoder().encode(request)
        let policy = configuration.retry
        var lastFailure = ""
        for attempt in 1...policy.maxAttempts {
            if attempt > 1 { try Task.checkCancellation() }
            switch try await send(body) {
            case .success(let response): return response
            case .failure(let error): throw error
            case .retry(let reason, let retryAfter):
                lastFailure = reason
                guard attempt < policy.maxAttempts else { break }
                let wait = policy.delay(beforeAttempt: attempt + 1, retryAfter: retryAfter, unit: Double.random(in: 0..<1))
                logger.warning("teacher request failed, retrying", metadata: [
                    "reason": "\(reason)", "attempt": "\(attempt)/\(policy.maxAttempts)", "wait": "\(wait)"])
                try await Task.sleep(for: wait)
            }
        }
        throw OpenAIClientError.retriesExhausted(attempts: policy.maxAttempts, lastFailure: lastFailure)
    }

    /// What one attempt came to.
    enum Attempt {
        case success(ChatCompletionResponse)
        case failure(OpenAIClientError)
        case retry(reason: String, retryAfter: Duration?)
    }

    /// One attempt: a transport error or timeout is retried; the status decides the rest.
    func send(_ body: Data) async throws -> Attempt {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let key = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        let timeout = Self.timeAmount(configuration.requestTimeout)
        do {
            let response = try await http.execute(request, timeout: timeout, logger: logger)
            let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
            return classify(status: Int(response.status.code), headers: response.headers,
                            body: String(buffer: bytes))
        } catch {
            if Task.isCancelled { throw CancellationError() }
            return .retry(reason: "\(error)", retryAfter: nil)
        }
    }

    /// Sorts a reply by status: success, retry (408, 429, 5xx) or a failure that no retry mends.
    func classify(status: Int, headers: HTTPHeaders, body: String) -> Attempt {
        switch status {
        case 200..<300:
            do {
                return .success(try JSONDecoder().decode(ChatCompletionResponse.self, from: Data(body.utf8)))
            } catch {
                return .failure(.malformedResponse(reason: "\(error)", body: body))
            }
        case 401, 403: return .failure(.unauthorized(url: endpoint, status: status, message: Self.message(body)))
        case 404: return .failure(.notFound(url: endpoint, message: Self.message(body)))
        case 408, 429, 500..<600:
            return .retry(reason: "HTTP \(status): \(Self.message(body))",
                          retryAfter: RetryPolicy.parseRetryAfter(headers.first(name: "Retry-After")))
        default: return .failure(.rejected(status: status, message: Self.message(body)))
        }
    }

    /// The `error.message` of an OpenAI error body, or the start of the body.
    static func message(_ body: String) -> String {
        struct ErrorBody: Decodable { struct Inner: Decodable { var message: String? }; var error: Inner? }
        if let parsed = try? JSONDecoder().decode(ErrorBody.self, from: Data(body.utf8)),
           let message = parsed.error?.message { return message }
        let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? "(empty body)" : String(trimmed.prefix(300))
    }
}
