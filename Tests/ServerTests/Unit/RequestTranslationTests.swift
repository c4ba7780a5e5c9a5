import Foundation
import LLaVA
@testable import Server
import XCTest

/// OpenAI's request read into the engine's, field by field, without a server.
final class RequestTranslationTests: XCTestCase {
    let limits = RequestLimits(contextLength: 100, maxImagePixels: 10_000)

    func decode(_ json: String) throws -> ChatCompletionRequest {
        try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(json.utf8))
    }

    func translate(_ json: String) throws -> CompletionRequest {
        try decode(json).completionRequest(limits: limits)
    }

    /// The API error `json` is refused with.
    func refusal(_ json: String) -> APIError? {
        do {
            _ = try translate(json)
            return nil
        } catch {
            return APIError(error)
        }
    }

    func testMessagesRolesAndParameters() throws {
        let r = try translate("""
            {"messages": [{"role": "developer", "content": "Be brief."},
                          {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                          {"role": "assistant", "content": null},
                          {"role": "user", "content": "c"}],
             "max_completion_tokens": 9, "max_tokens": 50, "temperature": 0.5, "top_p": 0.9, "top_k": 4,
             "seed": -1, "stop": "END", "frequency_penalty": 0, "n": 1}
            """)
        XCTAssertEqual(r.messages.map(\.role), [.system, .user, .assistant, .user])
        XCTAssertEqual(r.messages.map(\.text), ["Be brief.", "a\nb", "", "c"])
        XCTAssertEqual(r.parameters.maxNewTokens, 9, "max_completion_tokens wins over max_tokens")
        XCTAssertEqual(r.parameters.sampling, .init(temperature: 0.5, topK: 4, topP: 0.9, seed: UInt64.max))
        XCTAssertEqual(r.parameters.stopStrings, ["END"])
        let defaults = try translate(#"{"messages": [{"role": "user", "content": "hi"}], "stop": ["x", "y"]}"#)
        XCTAssertEqual(defaults.parameters.maxNewTokens, 100, "up to the context by default")
        XCTAssertEqual(defaults.parameters.sampling.temperature, 1, "OpenAI's default temperature")
        XCTAssertEqual(defaults.parameters.stopStrings, ["x", "y"])
    }

    func testEachRefusalNamesItsField() {
        let user = #"[{"role": "user", "content": "hi"}]"#
        let cases: [(String, String?, String?)] = [
            (#"{"messages": \#(user), "max_tokens": 0}"#, "max_tokens", "invalid_value"),
            (#"{"messages": \#(user), "max_completion_tokens": 101}"#, "max_completion_tokens", "invalid_value"),
            (#"{"messages": \#(user), "top_p": 0}"#, "top_p", "invalid_value"),
            (#"{"messages": \#(user), "top_k": -1}"#, "top_k", "invalid_value"),
            (#"{"messages": \#(user), "presence_penalty": 1}"#, "presence_penalty", "invalid_value"),
            (#"{"messages": \#(user), "logprobs": true}"#, "logprobs", "invalid_value"),
            (#"{"messages": \#(user), "stop": ["a", "b", "c", "d", "e"]}"#, "stop", "invalid_value"),
            (#"{"messages": [{"role": "user"}]}"#, "messages[0].content", nil),
            (#"{"messages": [{"role": "user", "content": [{"type": "text"}]}]}"#, "messages[0].content[0].text", nil),
            (#"{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}"#, "messages[0].content[0].image_url", nil),
        ]
        for (json, param, code) in cases {
            let error = refusal(json)
            XCTAssertEqual(error?.status, .badRequest, json)
            XCTAssertEqual(error?.param, param, json)
            XCTAssertEqual(error?.code, code, json)
        }
    }

    func testDataURLs() throws {
        let png = Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3])
        let base64 = png.base64EncodedString()
        XCTAssertEqual(try ImageDataURL.payload(of: "data:image/png;base64,\(base64)", param: "p"), png)
        XCTAssertEqual(try ImageDataURL.payload(of: "DATA:IMAGE/JPEG;BASE64,\(base64)", param: "p"), png)
        let wrapped = String(base64.prefix(4)) + "\r\n" + String(base64.dropFirst(4))
        XCTAssertEqual(try ImageDataURL.payload(of: "data:image/png;base64,\(wrapped)", param: "p"), png, "MIME line breaks")
        let refusals: [(String, String)] = [("data:image/png,rawbytes", "invalid_image_url"), ("data:image/png;base64", "invalid_image_url"),
                                            ("data:text/plain;base64,AAAA", "invalid_image_format"), ("http://x/y.png", "unsupported_image_url"),
                                            ("HTTPS://x/y.png", "unsupported_image_url"), ("file:///etc/passwd", "unsupported_image_url"),
                                            ("ftp://x/y.png", "invalid_image_url"), ("iVBORw0KGgo", "invalid_image_url"),
                                            ("data:image/png;base64,A*A=", "invalid_base64")]
        for (url, code) in refusals {
            XCTAssertThrowsError(try ImageDataURL.payload(of: url, param: "p"), url) { error in
                XCTAssertEqual((error as? APIError)?.code, code, url)
                XCTAssertEqual((error as? APIError)?.param, "p", url)
            }
        }
    }
}
