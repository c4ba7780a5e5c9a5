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
        let line = "\(request.method) \(request.uri.path) \(response.status.code)"
        let endpoint = context.endpointPath ?? "NotFound"
        let status = response.status.code
        let outcome = context.outcome
        let (logger, metrics) = (logger, metrics)
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            func finish(_ note: String) {
                metrics.record(status: status, path: endpoint)
                let seconds = (ContinuousClock.now - start).seconds
                logger.info("\(line)\(Self.tokens(outcome))\(note) \(String(format: "%.3f", seconds))s")
            }
            do {
                try await body.write(writer)
            } catch {
                finish(" client-disconnected")
                throw error
            }
            finish("")
        }
        return response
    }

    private static func tokens(_ outcome: RequestOutcome) -> String {
        guard let c = outcome.completion else { return "" }
        return " prompt_tokens=\(c.promptTokens) completion_tokens=\(c.completionTokens) finish=\(c.finishReason.openAI)"
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
