import Foundation
import TestSupport
import XCTest

/// Every bad request gets its status and OpenAI's error object, and never hurts the server:
/// a good request right after each is answered normally.
final class BadRequestTests: XCTestCase {
    var server: ServerProcess?
    var http: TestHTTPClient!

    override func setUp() {
        http = TestHTTPClient()
    }

    override func tearDown() {
        server?.kill()
        http.shutdown()
    }

    /// One bad request: what is sent and what must come back.
    struct Case {
        let name: String
        var json: Any? = nil
        var raw: Data? = nil
        var path = "/v1/chat/completions"
        let status: Int
        var param: String?? = .none      // .some(nil): the param must be null
        var code: String? = nil
    }

    func image(_ name: String) throws -> String { try ChatRequest.dataURI(Fixtures.url("images/\(name)")) }

    func cases() throws -> [Case] {
        let longPrompt = Array(repeating: "word", count: 400).joined(separator: " ")
        let truncated = try Data(contentsOf: Fixtures.url("images/truncated.png")).base64EncodedString()
        return [
            Case(name: "malformed JSON", raw: Data(#"{"messages": [{"role": "user""#.utf8), status: 400, param: .some(nil), code: "invalid_json"),
            Case(name: "empty body", raw: Data(), status: 400, code: "invalid_json"),
            Case(name: "JSON that is not an object", raw: Data("[1, 2]".utf8), status: 400),
            Case(name: "messages of the wrong type", json: ["messages": "hello"], status: 400, param: "messages", code: "invalid_type"),
            Case(name: "content of the wrong type", json: ["messages": [["role": "user", "content": 5]]], status: 400,
                 param: "messages[0].content", code: "invalid_type"),
            Case(name: "max_tokens of the wrong type", json: ChatRequest.body("hi").merging(["max_tokens": "ten"]) { $1 },
                 status: 400, param: "max_tokens", code: "invalid_type"),
            Case(name: "missing messages", json: ["max_tokens": 5], status: 400, param: "messages", code: "missing_required_parameter"),
            Case(name: "no messages", json: ["messages": []], status: 400, param: "messages"),
            Case(name: "unknown role", json: ["messages": [["role": "tool", "content": "x"]]], status: 400, param: "messages[0].role"),
            Case(name: "assistant last", json: ["messages": [["role": "user", "content": "a"], ["role": "assistant", "content": "b"]]],
                 status: 400, param: "messages"),
            Case(name: "unknown model", json: ChatRequest.body("hi", extra: ["model": "gpt-4o"]), status: 404, param: "model",
                 code: "model_not_found"),
            Case(name: "n > 1", json: ChatRequest.body("hi", extra: ["n": 2]), status: 400, param: "n"),
            Case(name: "negative max_tokens", json: ChatRequest.body("hi", maxTokens: -5), status: 400, param: "max_tokens"),
            Case(name: "huge max_tokens", json: ChatRequest.body("hi", maxTokens: 1_000_000_000), status: 400, param: "max_tokens"),
            Case(name: "temperature out of range", json: ChatRequest.body("hi", extra: ["temperature": 7]), status: 400, param: "temperature"),
            Case(name: "prompt longer than the context", json: ChatRequest.body(longPrompt), status: 400, param: "messages",
                 code: "context_length_exceeded"),
            Case(name: "invalid base64", json: ChatRequest.body("hi", images: ["data:image/png;base64,@@not base64@@"]), status: 400,
                 param: "messages[0].content[1].image_url", code: "invalid_base64"),
            Case(name: "corrupt image", json: ChatRequest.body("hi", images: ["data:image/png;base64," + truncated]), status: 400,
                 param: "messages[0].content[1].image_url", code: "invalid_image"),
            Case(name: "image over the pixel limit", json: ChatRequest.body("hi", images: [try image("photo_500x333.jpg")]), status: 400,
                 param: "messages[0].content[1].image_url", code: "image_too_large"),
            Case(name: "absurd image header", json: ChatRequest.body("hi", images: [try image("huge_header.png")]), status: 400,
                 param: "messages[0].content[1].image_url", code: "image_too_large"),
            Case(name: "not an image", json: ChatRequest.body("hi", images: ["data:image/png;base64," + Data("hello".utf8).base64EncodedString()]),
                 status: 400, param: "messages[0].content[1].image_url", code: "invalid_image_format"),
            Case(name: "remote image URL", json: ChatRequest.body("hi", images: ["https://example.com/cat.png"]), status: 400,
                 param: "messages[0].content[1].image_url", code: "unsupported_image_url"),
            Case(name: "file image URL", json: ChatRequest.body("hi", images: ["file:///etc/passwd"]), status: 400,
                 param: "messages[0].content[1].image_url", code: "unsupported_image_url"),
            Case(name: "body over the limit", raw: Data(repeating: UInt8(ascii: " "), count: 300_000), status: 413, code: "request_too_large"),
            Case(name: "unknown URL", json: [:], path: "/v1/completions", status: 404),
        ]
    }

    func testEveryBadRequestGetsItsErrorAndTheServerCarriesOn() async throws {
        let server = try ServerProcess.start(["--model", ChatRequest.fixtureModel.path, "--max-body-bytes", "200000",
                                              "--max-image-megapixels", "0.01"])
        self.server = server
        let good = ChatRequest.body("What is in the image?", images: [try image("rgb_37x23.png")], maxTokens: 8)
        for c in try cases() {
            let reply = try await http.post(server.baseURL + c.path, json: c.json, body: c.raw)
            XCTAssertEqual(reply.status, c.status, "\(c.name): \(reply.text)")
            XCTAssertEqual(reply.headers.first(name: "content-type"), "application/json", c.name)
            let error = reply.error
            XCTAssertFalse((error["message"] as? String ?? "").isEmpty, "\(c.name): no message in \(reply.text)")
            XCTAssertNotNil(error["type"] as? String, c.name)
            XCTAssertTrue(error.keys.contains("param") && error.keys.contains("code"), "\(c.name): \(reply.text)")
            if case .some(let param) = c.param { XCTAssertEqual(error["param"] as? String, param, "\(c.name): \(reply.text)") }
            if let code = c.code { XCTAssertEqual(error["code"] as? String, code, "\(c.name): \(reply.text)") }

            let after = try await http.post(server.baseURL + "/v1/chat/completions", json: good)
            XCTAssertEqual(after.status, 200, "the good request after '\(c.name)': \(after.text)")
            XCTAssertNotNil(after.json.answer)
        }
        let chunked = try await http.postChunked(server.baseURL + "/v1/chat/completions", body: Data(repeating: 32, count: 300_000))
        XCTAssertEqual(chunked.status, 413, "a chunked body over the limit, with no Content-Length to refuse it by")
        XCTAssertEqual(chunked.error["code"] as? String, "request_too_large")
        let after = try await http.post(server.baseURL + "/v1/chat/completions", json: good)
        XCTAssertEqual(after.status, 200, after.text)
        XCTAssertTrue(server.process.isRunning)
    }

    func testAPIKey() async throws {
        let server = try ServerProcess.start(["--model", ChatRequest.fixtureModel.path, "--api-key", "sesame"])
        self.server = server
        let url = server.baseURL + "/v1/chat/completions"
        let body = ChatRequest.body("Describe it.", maxTokens: 4)
        for headers in [[], [("Authorization", "Bearer wrong")], [("Authorization", "sesame")]] {
            let reply = try await http.post(url, json: body, headers: headers)
            XCTAssertEqual(reply.status, 401, "\(headers): \(reply.text)")
            XCTAssertEqual(reply.error["code"] as? String, "invalid_api_key")
            XCTAssertEqual(reply.headers.first(name: "www-authenticate"), "Bearer")
        }
        let models = try await http.get(server.baseURL + "/v1/models")
        XCTAssertEqual(models.status, 401)
        let ok = try await http.post(url, json: body, headers: [("Authorization", "Bearer sesame")])
        XCTAssertEqual(ok.status, 200, ok.text)
        let health = try await http.get(server.baseURL + "/health")
        XCTAssertEqual(health.status, 200, "the health check needs no key")
    }
}
