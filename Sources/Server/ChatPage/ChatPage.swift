import Foundation
import Hummingbird
import NIOCore

/// `GET /`: the web chat page, one HTML file with its script and style inline, bundled with
/// this module (no build step, nothing fetched from elsewhere).
struct ChatPage: Sendable {
    let html: ByteBuffer

    /// Reads the bundled page once.
    init() throws {
        guard let url = Bundle.module.url(forResource: "chat", withExtension: "html") else {
            throw APIError.internalError("the chat page (chat.html) is missing from the Server module's resources")
        }
        html = ByteBuffer(bytes: try Data(contentsOf: url))
    }

    func handle(_ request: Request, context: ServerContext) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                 body: ResponseBody(byteBuffer: html))
    }
}
