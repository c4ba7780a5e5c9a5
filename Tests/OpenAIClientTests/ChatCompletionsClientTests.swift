import OpenAIClient
import ScriptedOpenAIServer
import XCTest

/// The client against a scripted server on 127.0.0.1: what it sends, and what it does with each
/// kind of failure. Retry waits are milliseconds here, and every attempt count is bounded.
final class ChatCompletionsClientTests: XCTestCase {
    let request = ChatCompletionRequest(model: "teacher", messages: [.system("Be brief."), .user("Hi")],
                                        temperature: 0.5, maxTokens: 64, seed: 3)

    func client(_ server: ScriptedOpenAIServer, attempts: Int = 4, timeout: Duration = .seconds(10),
                key: String? = nil) throws -> ChatCompletionsClient {
        try ChatCompletionsClient(configuration: .init(
            baseURL: server.baseURL, apiKey: key, requestTimeout: timeout, connectTimeout: .milliseconds(500),
            retry: RetryPolicy(maxAttempts: attempts, baseDelay: .milliseconds(20), maxDelay: .milliseconds(100))))
    }

    func testSendsTheRequestAndReadsTextAndUsage() async throws {
        let server = try await ScriptedOpenAIServer { _, _ in .chat("Hello ✓", promptTokens: 12, completionTokens: 3) }
        let c = try client(server, key: "sk-test")
        let reply = try await c.complete(request)
        try await c.shutdown()
        await server.stop()
        XCTAssertEqual(reply.text, "Hello ✓")
        XCTAssertEqual(reply.usage, TokenUsage(promptTokens: 12, completionTokens: 3))
        XCTAssertEqual(reply.finishReason, "stop")
        let received = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(received.method, "POST")
        XCTAssertEqual(received.path, "/v1/chat/completions")
        XCTAssertEqual(received.headers["authorization"], "Bearer sk-test")
        let chat = try XCTUnwrap(received.chat)
        XCTAssertEqual(chat.model, "teacher")
        XCTAssertEqual(chat.messages.map(\.role), ["system", "user"])
        XCTAssertEqual(chat.seed, 3)
    }

    func testHonoursRetryAfterOn429() async throws {
        let server = try await ScriptedOpenAIServer { _, i in
            i == 0 ? .error(429, "rate limited", retryAfter: "1") : .chat("ok")
        }
        let c = try client(server)
        let start = ContinuousClock.now
        let reply = try await c.complete(request)
        let elapsed = ContinuousClock.now - start
        try await c.shutdown()
        await server.stop()
        XCTAssertEqual(reply.text, "ok")
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(950), "waited \(elapsed), Retry-After said 1 s")
    }

    func testRetries5xxWithBackoff() async throws {
        let failures: [ScriptedOpenAIServer.Reply] = [.error(500, "boom"), .error(503, "busy"), .error(502, "bad gateway")]
        let server = try await ScriptedOpenAIServer { _, i in failures[safe: i] ?? .chat("finally") }
        let c = try client(server, attempts: 5)
        let reply = try await c.complete(request)
        try await c.shutdown()
        await server.stop()
        XCTAssertEqual(reply.text, "finally")
        XCTAssertEqual(server.requests.count, 4)
    }

    func testATimedOutAttemptIsRetried() async throws {
        let server = try await ScriptedOpenAIServer { _, i in .chat("late or not", delay: i == 0 ? .seconds(5) : .zero) }
        let c = try client(server, timeout: .milliseconds(400))
        let start = ContinuousClock.now
        let reply = try await c.complete(request)
        let elapsed = ContinuousClock.now - start
        try await c.shutdown()
        await server.stop()
        XCTAssertEqual(reply.text, "late or not")
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertLessThan(elapsed, .seconds(4))
    }

    func testStopsAtOnceOn401And404() async throws {
        for status in [401, 403, 404] {
            let server = try await ScriptedOpenAIServer { _, _ in .error(status, "nope") }
            let c = try client(server)
            do {
                _ = try await c.complete(request)
                XCTFail("\(status) should fail")
            } catch let e as OpenAIClientError {
                switch (status, e) {
                case (401, .unauthorized), (403, .unauthorized), (404, .notFound): break
                default: XCTFail("\(status): \(e)")
                }
                XCTAssertTrue(e.stopsRun)
                XCTAssertTrue(e.description.contains("nope"), e.description)
            }
            try await c.shutdown()
            await server.stop()
            XCTAssertEqual(server.requests.count, 1, "\(status) must not be retried")
        }
    }

    func testA400IsThisRequestsFailure() async throws {
        let server = try await ScriptedOpenAIServer { _, _ in .error(400, "context too long") }
        let c = try client(server)
        do {
            _ = try await c.complete(request)
            XCTFail("400 should fail")
        } catch let e as OpenAIClientError {
            XCTAssertEqual(e, .rejected(status: 400, message: "context too long"))
            XCTAssertFalse(e.stopsRun)
        }
        try await c.shutdown()
        await server.stop()
        XCTAssertEqual(server.requests.count, 1)
    }

    func testABodyThatIsNotACompletionIsMalformed() async throws {
        let server = try await ScriptedOpenAIServer { _, _ in .init(status: 200, body: "<html>proxy</html>") }
        let c = try client(server)
        do {
            _ = try await c.complete(request)
            XCTFail("should fail")
        } catch let e as OpenAIClientError {
            guard case .malformedResponse = e else { return XCTFail("\(e)") }
        }
        try await c.shutdown()
        await server.stop()
    }

    func testGivesUpWhenTheServerStaysDown() async throws {
        let server = try await ScriptedOpenAIServer { _, _ in .chat("never") }
        await server.stop()
        let c = try client(server, attempts: 3)
        do {
            _ = try await c.complete(request)
            XCTFail("should fail")
        } catch let e as OpenAIClientError {
            guard case .retriesExhausted(let attempts, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(attempts, 3)
            XCTAssertTrue(e.stopsRun)
        }
        try await c.shutdown()
    }

    func testWaitsForARestartingServer() async throws {
        let server = try await ScriptedOpenAIServer { _, _ in .chat("back") }
        await server.stop()
        let restart = Task {
            try await Task.sleep(for: .milliseconds(600))
            try await server.start()
        }
        let c = try client(server, attempts: 40)
        let reply = try await c.complete(request)
        try await restart.value
        try await c.shutdown()
        await server.stop()
        XCTAssertEqual(reply.text, "back")
    }

    func testEndpointIsBuiltFromTheBaseURL() throws {
        for (base, expected) in [("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/chat/completions"),
                                 ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1/chat/completions"),
                                 ("https://127.0.0.1/v1/chat/completions", "https://127.0.0.1/v1/chat/completions")] {
            let c = try ChatCompletionsClient(configuration: .init(baseURL: base))
            XCTAssertEqual(c.endpoint, expected)
            try c.syncShutdownForTests()
        }
        for bad in ["127.0.0.1:8080", "ftp://127.0.0.1/", "http:///v1"] {
            XCTAssertThrowsError(try ChatCompletionsClient(configuration: .init(baseURL: bad)), bad)
        }
    }
}

extension ChatCompletionsClient {
    func syncShutdownForTests() throws {
        let done = DispatchSemaphore(value: 0)
        Task { try? await shutdown(); done.signal() }
        done.wait()
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
