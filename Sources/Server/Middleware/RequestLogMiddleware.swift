import Foundation
import Hummingbird
import Logging

/// One log line and one `llava_http_requests_total` count per request, written once the
/// response body has gone out (for a stream, at its end): method, path, status, the
/// completion's tokens and why it ended, and the duration.
///
/// ```
/// POST /v1/chat/completions 200 prompt_tokens=41 completion_tokens=9 finish=stop 0.212s
/// ```
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let logger: Logger
    let metrics: ServerMetrics

    func handle(_ request: Request, context: ServerContext,
                next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        let body = response.body
        let line = RequestLogLine(request: request, status: response.status.code, endpoint: context.endpointPath ?? "NotFound",
                                  outcome: context.outcome, start: start, logger: logger, metrics: metrics)
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
            } catch {
                line.write(note: " client-disconnected")
                throw error
            }
            line.write(note: "")
        }
        return response
    }
}

/// A request's log line, written exactly once: when its body has been written or failed, or,
/// if the connection was gone before the body could start, when the response is dropped.
final class RequestLogLine: @unchecked Sendable {
    private let text: String
    private let status: Int
    private let endpoint: String
    private let outcome: RequestOutcome
    private let start: ContinuousClock.Instant
    private let logger: Logger
    private let metrics: ServerMetrics
    private let lock = NSLock()
    private var written = false   // guarded by `lock`

    init(request: Request, status: Int, endpoint: String, outcome: RequestOutcome, start: ContinuousClock.Instant,
         logger: Logger, metrics: ServerMetrics) {
        text = "\(request.method) \(request.uri.path) \(status)"
        self.status = status
        self.endpoint = endpoint
        self.outcome = outcome
        self.start = start
        self.logger = logger
        self.metrics = metrics
    }

    func write(note: String) {
        lock.lock()
        let first = !written
        written = true
        lock.unlock()
        guard first else { return }
        metrics.record(status: status, path: endpoint)
        let seconds = (ContinuousClock.now - start).seconds
        logger.info("\(text)\(tokens)\(note) \(String(format: "%.3f", seconds))s")
    }

    private var tokens: String {
        guard let c = outcome.completion else { return "" }
        return " prompt_tokens=\(c.promptTokens) completion_tokens=\(c.completionTokens) finish=\(c.finishReason.openAI)"
    }

    deinit { write(note: " not-sent") }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
