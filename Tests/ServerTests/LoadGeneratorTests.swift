import Foundation
import TestSupport
import XCTest

/// `llava bench serve` against a real `llava serve`: every request counted, the errors too.
final class LoadGeneratorTests: XCTestCase {
    var server: ServerProcess?

    override func tearDown() {
        server?.kill()
    }

    func benchServe(_ arguments: [String]) throws -> [String: Any] {
        let result = try LLaVAExecutable.run(["bench", "serve", "--json"] + arguments, timeout: 120)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
    }

    func testReportsThroughputAndLatencyOfEveryRequest() throws {
        let server = try ServerProcess.start(["--model", ChatRequest.fixtureModel.path, "--parallel", "3"])
        self.server = server
        let report = try benchServe(["--url", server.baseURL, "--clients", "3", "--requests", "9", "--max-tokens", "6",
                                     "--image", Fixtures.url("images/photo_500x333.jpg").path])
        XCTAssertEqual(report["requests"] as? Int, 9)
        XCTAssertEqual(report["succeeded"] as? Int, 9)
        XCTAssertEqual(report["failed"] as? Int, 0)
        XCTAssertEqual((report["errors"] as? [String: Int])?.isEmpty, true)
        let tokens = try XCTUnwrap(report["generated_tokens"] as? Int)
        XCTAssertTrue(tokens > 0 && tokens % 9 == 0, "nine greedy answers to one request: \(tokens) tokens")
        XCTAssertGreaterThan(report["requests_per_second"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(report["generated_tokens_per_second"] as? Double ?? 0, 0)
        let ttft = try XCTUnwrap(report["time_to_first_token"] as? [String: Double])
        let latency = try XCTUnwrap(report["latency"] as? [String: Double])
        for p in ["p50", "p95", "p99"] {
            XCTAssertLessThanOrEqual(ttft[p] ?? .infinity, latency[p] ?? 0, p)
        }
        XCTAssertLessThanOrEqual(latency["p50"] ?? .infinity, latency["p99"] ?? 0)
        let logged = server.stderr.components(separatedBy: "POST /v1/chat/completions 200").count - 1
        XCTAssertEqual(logged, 10, "the server logged every request, and the unmeasured warm-up")
    }

    func testRefusedRequestsAreCountedAsErrors() throws {
        let server = try ServerProcess.start(["--model", ChatRequest.fixtureModel.path, "--api-key", "sesame"])
        self.server = server
        let report = try benchServe(["--url", server.baseURL + "/v1", "--clients", "2", "--requests", "4", "--max-tokens", "2",
                                     "--model", "hf-mlp2x-default", "--warmup", "0"])
        XCTAssertEqual(report["failed"] as? Int, 4)
        let errors = try XCTUnwrap(report["errors"] as? [String: Int])
        XCTAssertEqual(errors.count, 1)
        XCTAssertTrue(errors.keys.first?.hasPrefix("HTTP 401") ?? false, "\(errors)")
        // A refused warm-up stops the test before it starts, with the server's answer.
        let refused = try LLaVAExecutable.run(["bench", "serve", "--url", server.baseURL, "--model", "hf-mlp2x-default",
                                               "--max-tokens", "2"], timeout: 120)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("the warm-up request failed: HTTP 401"), refused.stderr)
        let ok = try benchServe(["--url", server.baseURL, "--clients", "2", "--requests", "2", "--max-tokens", "2", "--api-key", "sesame"])
        XCTAssertEqual(ok["succeeded"] as? Int, 2)
    }
}
