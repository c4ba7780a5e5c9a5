import Foundation
import LLaVA
@testable import Server
import XCTest

/// The error object is OpenAI's, and each library error maps to its status and code.
final class APIErrorTests: XCTestCase {
    func json(_ error: APIError) throws -> [String: Any] {
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: error.body) as? [String: Any])
        return try XCTUnwrap(body["error"] as? [String: Any])
    }

    func testBodyHasEveryFieldWithNulls() throws {
        let object = try json(.internalError("boom"))
        XCTAssertEqual(Set(object.keys), ["message", "type", "param", "code"])
        XCTAssertTrue(object["param"] is NSNull)
        XCTAssertTrue(object["code"] is NSNull)
        XCTAssertEqual(object["type"] as? String, "server_error")
        let named = try json(.invalidRequest("must be at most 2, got 7", param: "temperature", code: "invalid_value"))
        XCTAssertEqual(named["message"] as? String, "temperature: must be at most 2, got 7")
        XCTAssertEqual(named["param"] as? String, "temperature")
    }

    func testEngineErrors() {
        let context = APIError(EngineError.contextLengthExceeded(promptTokens: 300, requested: 1, context: 256))
        XCTAssertEqual(context.status, .badRequest)
        XCTAssertEqual(context.code, "context_length_exceeded")
        XCTAssertTrue(context.message.contains("256") && context.message.contains("300"), context.message)
        let full = APIError(EngineError.queueFull(waiting: 3))
        XCTAssertEqual(full.status, .serviceUnavailable)
        XCTAssertEqual(full.retryAfter, 1)
        XCTAssertEqual(full.response.headers[.retryAfter], "1")
        let invalid = APIError(EngineError.invalidRequest(parameter: "messages[2].role", reason: "expected 'user'"))
        XCTAssertEqual(invalid.param, "messages[2].role")
        XCTAssertEqual(APIError(EngineError.shuttingDown).status, .serviceUnavailable)
    }

    func testDecodingErrorsNameTheirPath() {
        func error(_ json: String) -> APIError {
            do {
                _ = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(json.utf8))
                return .internalError("decoded")
            } catch {
                return APIError(error)
            }
        }
        XCTAssertEqual(error(#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 1}}]}]}"#).param,
                       "messages[0].content[0].image_url.url")
        XCTAssertEqual(error(#"{"messages": [{"content": "x"}]}"#).param, "messages[0].role")
        XCTAssertEqual(error(#"{"messages": [], "stream": "yes"}"#).param, "stream")
        XCTAssertEqual(error("{").code, "invalid_json")
        XCTAssertNil(error("{").param)
    }
}
