import Foundation
import TestSupport
import XCTest

/// `POST /v1/chat/completions` answers exactly as `llava generate` does, streamed or not, alone
/// or among seven other clients.
final class ChatCompletionTests: XCTestCase {
    var server: ServerProcess?
    var http: TestHTTPClient!

    override func setUp() {
        http = TestHTTPClient()
    }

    override func tearDown() {
        server?.kill()
        http.shutdown()
    }

    func startFixtureServer(_ extra: [String] = []) throws -> String {
        let server = try ServerProcess.start(["--model", ChatRequest.fixtureModel.path] + extra)
        self.server = server
        return server.baseURL + "/v1/chat/completions"
    }

    /// `llava generate --json` for the same prompt and images (greedy).
    func generate(_ prompt: String, images: [String], maxTokens: Int) throws -> [String: Any] {
        let arguments = ["generate", "--model", ChatRequest.fixtureModel.path, "--prompt", prompt, "--max-new-tokens", String(maxTokens), "--json"]
            + images.flatMap { ["--image", Fixtures.url("images/\($0)").path] }
        let result = try LLaVAExecutable.run(arguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func testAnswersEqualGenerateStreamedOrNot() async throws {
        let url = try startFixtureServer()
        let cases: [(String, [String])] = [("What is in the image?", ["photo_500x333.jpg"]),
                                           ("Describe it.", ["rgb_37x23.png"]),
                                           ("Compare the two pictures.", ["photo_500x333.jpg", "gray.png"]),
                                           ("Say something.", [])]
        for (prompt, images) in cases {
            let reference = try generate(prompt, images: images, maxTokens: 24)
            let text = try XCTUnwrap(reference["text"] as? String)
            let tokens = try XCTUnwrap(reference["token_ids"] as? [Int])
            let finish = (reference["finish_reason"] as? String) == "length" ? "length" : "stop"
            let uris = try images.map { try ChatRequest.dataURI(Fixtures.url("images/\($0)")) }

            let reply = try await http.post(url, json: ChatRequest.body(prompt, images: uris, maxTokens: 24))
            XCTAssertEqual(reply.status, 200, reply.text)
            XCTAssertEqual(reply.json["object"] as? String, "chat.completion")
            XCTAssertEqual(reply.json.answer, text, prompt)
            XCTAssertEqual(reply.json.finishReason, finish, prompt)
            XCTAssertEqual(reply.json.usage["completion_tokens"], tokens.count, prompt)
            XCTAssertEqual(reply.json.usage["prompt_tokens"], reference["prompt_tokens"] as? Int, prompt)
            XCTAssertEqual(reply.json.usage["total_tokens"], tokens.count + (reference["prompt_tokens"] as? Int ?? 0))

            let streamed = try await http.stream(url, json: ChatRequest.body(prompt, images: uris, maxTokens: 24, stream: true,
                                                                             extra: ["stream_options": ["include_usage": true]]))
            try checkStream(streamed, text: text, finish: finish, completionTokens: tokens.count, prompt: prompt)
        }
    }

    /// The chunks in OpenAI's order: role, text pieces, finish reason, usage, `[DONE]`.
    func checkStream(_ s: StreamReply, text: String, finish: String, completionTokens: Int, prompt: String) throws {
        XCTAssertEqual(s.status, 200)
        XCTAssertEqual(s.headers.first(name: "content-type"), "text/event-stream")
        XCTAssertEqual(s.events.last, "[DONE]")
        XCTAssertEqual(s.content, text, prompt)
        let chunks = s.chunks
        XCTAssertEqual(chunks.count, s.events.count - 1)
        XCTAssertTrue(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        XCTAssertEqual(Set(chunks.compactMap { $0["id"] as? String }).count, 1, "one id for every chunk")
        let choices = chunks.map { $0["choices"] as? [[String: Any]] ?? [] }
        XCTAssertEqual((choices.first?.first?["delta"] as? [String: Any])?["role"] as? String, "assistant")
        let finishes = choices.compactMap { $0.first?["finish_reason"] as? String }
        XCTAssertEqual(finishes, [finish], "one finish reason, in the last choice chunk")
        XCTAssertEqual(choices.last?.count, 0, "the usage chunk has no choices")
        let usage = try XCTUnwrap(chunks.last?["usage"] as? [String: Int])
        XCTAssertEqual(usage["completion_tokens"], completionTokens)
        XCTAssertTrue(chunks.dropLast().allSatisfy { $0["usage"] is NSNull }, "usage is null until the last chunk")
    }

    func testWithoutIncludeUsageTheStreamHasNoUsage() async throws {
        let url = try startFixtureServer()
        let streamed = try await http.stream(url, json: ChatRequest.body("Describe it.", maxTokens: 8, stream: true))
        XCTAssertEqual(streamed.events.last, "[DONE]")
        XCTAssertTrue(streamed.chunks.allSatisfy { $0["usage"] == nil })
        XCTAssertNotNil((streamed.chunks.last?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String)
    }

    /// Eight clients at once (greedy and seeded sampling, with and without images, streamed and
    /// not) each get the text they get alone.
    func testEightClientsTogetherGetWhatEachGetsAlone() async throws {
        let url = try startFixtureServer(["--parallel", "8"])
        let photo = try ChatRequest.dataURI(Fixtures.url("images/photo_500x333.jpg"))
        let gray = try ChatRequest.dataURI(Fixtures.url("images/gray.png"))
        let prompts = ["What is in the image?", "Describe it.", "What colour is it?", "Is there a cat?"]
        let bodies: [[String: Any]] = (0..<8).map { k in
            ChatRequest.body(prompts[k % 4], images: k % 3 == 2 ? [] : [k % 2 == 0 ? photo : gray], maxTokens: 12 + 3 * k,
                             extra: k % 2 == 0 ? [:] : ["temperature": 0.9, "seed": k])
        }
        let http: TestHTTPClient = self.http
        func answer(_ k: Int) async throws -> String {
            if k % 4 == 1 { return try await http.stream(url, json: bodies[k].merging(["stream": true]) { $1 }).content }
            let reply = try await http.post(url, json: bodies[k])
            XCTAssertEqual(reply.status, 200, reply.text)
            return reply.json.answer ?? "<no answer>"
        }
        var alone: [String] = []
        for k in 0..<8 { alone.append(try await answer(k)) }
        let together = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for k in 0..<8 { group.addTask { (k, try await answer(k)) } }
            var out = [String](repeating: "", count: 8)
            for try await (k, text) in group { out[k] = text }
            return out
        }
        XCTAssertEqual(together, alone)
        XCTAssertTrue(alone.allSatisfy { !$0.isEmpty })
    }

    func testModelsHealthAndMetrics() async throws {
        _ = try startFixtureServer()
        let base = try XCTUnwrap(server).baseURL
        let models = try await http.get(base + "/v1/models")
        XCTAssertEqual(models.status, 200)
        let data = try XCTUnwrap(models.json["data"] as? [[String: Any]])
        XCTAssertEqual(data.map { $0["id"] as? String }, ["hf-mlp2x-default"])
        XCTAssertEqual(models.json["object"] as? String, "list")
        let one = try await http.get(base + "/v1/models/hf-mlp2x-default")
        XCTAssertEqual(one.json["id"] as? String, "hf-mlp2x-default")

        let health = try await http.get(base + "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.json["status"] as? String, "ok")
        XCTAssertEqual(health.json["active"] as? Int, 0)

        let named = try await http.post(base + "/v1/chat/completions",
                                        json: ChatRequest.body("Describe it.", maxTokens: 5, extra: ["model": "hf-mlp2x-default"]))
        XCTAssertEqual(named.status, 200)
        XCTAssertEqual(named.json["model"] as? String, "hf-mlp2x-default")

        let metrics = try await http.get(base + "/metrics")
        XCTAssertEqual(metrics.status, 200)
        for name in ["llava_http_requests_total", "llava_prompt_tokens_total", "llava_generation_tokens_total",
                     "llava_queue_depth", "llava_active_sequences", "llava_time_to_first_token_seconds_bucket",
                     "llava_time_per_output_token_seconds_bucket"] {
            XCTAssertTrue(metrics.text.contains(name), "\(name) missing from /metrics:\n\(metrics.text)")
        }
        XCTAssertTrue(metrics.text.contains(#"llava_http_requests_total{path="/v1/chat/completions",status="200"} 1"#), metrics.text)
        XCTAssertTrue(try XCTUnwrap(server).stderr.contains("POST /v1/chat/completions 200 prompt_tokens="), "one log line per request")
    }
}
