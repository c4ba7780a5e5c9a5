import Foundation
import Hummingbird
import Logging

/// Turns whatever a route throws into OpenAI's error object with its status, so no failure
/// reaches the client in another shape (an unknown URL included).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let logger: Logger

    func handle(_ request: Request, context: ServerContext,
                next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return APIError.routeNotFound(method: request.method.rawValue, path: request.uri.path).response
        } catch {
            let apiError = APIError(error)
            if apiError.status.code >= 500 { logger.error("\(request.method) \(request.uri.path): \(error)") }
            return apiError.response
        }
    }
}
