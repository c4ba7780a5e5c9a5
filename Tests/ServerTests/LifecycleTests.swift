import AsyncHTTPClient
import Foundation
import NIOCore
import TestSupport
import XCTest

/// Slots, the queue and shutdown, on random weights of a real shape (`--preset tiny-llava`),
/// whose answers run to `max_tokens`: long enough to act while one is in flight.
final class LifecycleTests: XCTestCase {
    var server: ServerProcess?
    var http: TestHTTPClient!

    override func setUp() {
        http = TestHTTPClient()
    }
    /// Enough tokens that an answer is still running while the test acts (seconds on 2 cores).
    let longAnswer = 3000

    override func tearDown() {
        server?.kill()
        http.shutdown()
    }

    func startPresetServer(_ extra: [String]) throws -> ServerProcess {
        let server = try ServerProcess.start(["--preset", "tiny-llava", "--weights", "f32"] + extra)
        self.server = server
        return server
    }

    /// The value of an unlabelled metric in `/metrics`.
    func metric(_ name: String, _ server: ServerProcess) async throws -> Double? {
        let text = try await http.get(server.baseURL + "/metrics").text
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// Polls until `condition` holds or `timeout` passes; whether it held.
    func eventually(timeout: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return false
    }

    /// Starts a long streamed answer and returns once its first chunk has arrived; the task
    /// reads on until cancelled (which hangs up) and returns the chunks it saw.
    func startLongStream(_ server: ServerProcess) async throws -> Task<Int, Error> {
        let body = ChatRequest.body("Describe it.", maxTokens: longAnswer, stream: true)
        let request = try http.postRequest(server.baseURL + "/v1/chat/completions", json: body, body: nil, headers: [])
        let (first, firstArrived) = AsyncStream<Void>.makeStream()
        let client = http.client
        let task = Task {
            let response = try await client.execute(request, timeout: .seconds(120))
            var chunks = 0
            for try await _ in response.body {
                chunks += 1
                firstArrived.yield()
            }
            return chunks
        }
        for await _ in first { break }
        return task
    }

    func testClientDisconnectMidStreamFreesTheSlot() async throws {
        let server = try startPresetServer(["--parallel", "1"])
        let stream = try await startLongStream(server)
        let busy = try await metric("llava_active_sequences", server)
        XCTAssertEqual(busy, 1)
        stream.cancel()   // hang up mid-answer
        let freed = try await eventually(timeout: 5) { try await metric("llava_active_sequences", server) == 0 }
        XCTAssertTrue(freed, "the slot was not freed after the client went away")
        XCTAssertTrue(server.stderr.contains("client-disconnected"), server.stderr)
        XCTAssertFalse(server.stderr.contains("completion_tokens=\(longAnswer)"), "the answer ran to its end")
        let next = try await http.post(server.baseURL + "/v1/chat/completions", json: ChatRequest.body("Describe it.", maxTokens: 4))
        XCTAssertEqual(next.status, 200, next.text)
    }

    /// A client that hangs up while its request waits for a slot leaves the queue at once.
    func testClientDisconnectWhileQueuedLeavesTheQueue() async throws {
        let server = try startPresetServer(["--parallel", "1"])
        let running = try await startLongStream(server)
        let body = ChatRequest.body("Describe it.", maxTokens: longAnswer)
        let http: TestHTTPClient = self.http
        let queued = Task { try await http.post(server.baseURL + "/v1/chat/completions", json: body) }
        let waiting = try await eventually { try await metric("llava_queue_depth", server) == 1 }
        XCTAssertTrue(waiting, "the second request should wait for the only slot")
        queued.cancel()
        let left = try await eventually(timeout: 5) { try await metric("llava_queue_depth", server) == 0 }
        XCTAssertTrue(left, "the queued request stayed after its client went away")
        let logged = await eventually(timeout: 5) { server.stderr.contains("POST /v1/chat/completions 499") }
        XCTAssertTrue(logged, "logged as nginx logs a client that closed its request: \(server.stderr)")
        let active = try await metric("llava_active_sequences", server)
        XCTAssertEqual(active, 1, "the running answer goes on")
        running.cancel()
    }

    func testAFullQueueGets503WithRetryAfter() async throws {
        let server = try startPresetServer(["--parallel", "1", "--max-queue", "0"])
        let stream = try await startLongStream(server)
        let refused = try await http.post(server.baseURL + "/v1/chat/completions", json: ChatRequest.body("Describe it.", maxTokens: 4))
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertEqual(refused.headers.first(name: "retry-after"), "1")
        XCTAssertEqual(refused.error["code"] as? String, "server_overloaded")
        XCTAssertEqual(refused.error["type"] as? String, "server_error")
        stream.cancel()
        let freed = try await eventually { try await metric("llava_active_sequences", server) == 0 }
        XCTAssertTrue(freed)
        let next = try await http.post(server.baseURL + "/v1/chat/completions", json: ChatRequest.body("Describe it.", maxTokens: 4))
        XCTAssertEqual(next.status, 200, next.text)
    }

    /// SIGTERM while two answers are in flight (one streamed): both complete, then the process exits 0.
    func testSIGTERMFinishesRequestsInFlightAndExitsZero() async throws {
        let server = try startPresetServer(["--parallel", "2"])
        let url = server.baseURL + "/v1/chat/completions"
        let tokens = 1200
        let http: TestHTTPClient = self.http
        let plain = Task { try await http.post(url, json: ChatRequest.body("Describe it.", maxTokens: tokens)) }
        let streamed = Task { try await http.stream(url, json: ChatRequest.body("What is it?", maxTokens: tokens, stream: true)) }
        let running = try await eventually { try await metric("llava_active_sequences", server) == 2 }
        XCTAssertTrue(running, "both requests should be decoding before SIGTERM")
        server.terminate()

        let reply = try await plain.value
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertNotNil(reply.json.answer)
        let finish = reply.json.finishReason
        XCTAssertTrue(finish == "length" ? reply.json.usage["completion_tokens"] == tokens : finish == "stop", reply.text)
        let stream = try await streamed.value
        XCTAssertEqual(stream.status, 200)
        XCTAssertEqual(stream.events.last, "[DONE]", "the streamed answer was cut off")
        XCTAssertEqual(server.waitForExit(timeout: 30), 0, server.stderr)
    }

    /// What cannot be served is refused at start, with a message and a non-zero exit.
    func testStartupRefusalsSayWhy() throws {
        let server = try ServerProcess.start(["--model", ChatRequest.fixtureModel.path])
        self.server = server
        let refusals: [([String], String)] = [
            (["--port", String(server.port)], "cannot listen on 127.0.0.1:\(server.port)"),
            (["--preset", "tiny"], "has no vision tower"),
            (["--model", Fixtures.url("llama/mha").path], "text-only model"),
            (["--conv-mode", "raw"], "--conv-mode raw"),
            (["--context", "100000", "--model", ChatRequest.fixtureModel.path], "exceeds the model's 256 positions"),
            (["--preset", "tiny-llava", "--model", ChatRequest.fixtureModel.path], "not both"),
        ]
        for (arguments, message) in refusals {
            let result = try LLaVAExecutable.run(["serve", "--host", "127.0.0.1", "--port", "0"] + arguments, timeout: 60)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
