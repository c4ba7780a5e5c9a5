import Foundation
import Hummingbird

/// With `--api-key`, the API (`/v1/…`) answers only requests that carry
/// `Authorization: Bearer KEY`; the chat page, `/health` and `/metrics` stay open.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let key: String

    func handle(_ request: Request, context: ServerContext,
                next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else { throw APIError.invalidAPIKey(provided: false) }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), Self.equal(Array(header.dropFirst(prefix.count).utf8), Array(key.utf8)) else {
            throw APIError.invalidAPIKey(provided: true)
        }
        return try await next(request, context)
    }

    /// Compares in time that depends on the length only, so timing does not reveal the key.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
