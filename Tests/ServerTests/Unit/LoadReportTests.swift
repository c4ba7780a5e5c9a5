@testable import LoadGenerator
import NIOCore
import XCTest

final class LoadReportTests: XCTestCase {
    func testPercentilesAreNearestRank() throws {
        let p = try XCTUnwrap(LoadReport.Percentiles((1...100).map(Double.init).shuffled()))
        XCTAssertEqual([p.p50, p.p95, p.p99], [50, 95, 99])
        let one = try XCTUnwrap(LoadReport.Percentiles([0.25]))
        XCTAssertEqual([one.p50, one.p95, one.p99], [0.25, 0.25, 0.25])
        XCTAssertNil(LoadReport.Percentiles([]))
    }

    func testDecodeRateCountsTokensAfterTheFirstOverTheTimeAnyRequestDecoded() {
        XCTAssertEqual(LoadReport.coveredLength([1...3, 2...5, 7...8, 7.5...7.75]), 5)
        XCTAssertEqual(LoadReport.coveredLength([]), 0)
        // Two requests decoding over [2, 6] and [4, 10] (9 seconds in all, with the second's
        // first token at 4), 5 and 10 tokens: 4 + 9 decoded tokens over 8 seconds.
        var a = RequestSample(seconds: 6, completionTokens: 5), b = RequestSample(seconds: 9, completionTokens: 10)
        a.firstText = 2
        b.firstText = 3; b.startedAt = 1
        var failed = RequestSample(seconds: 20, completionTokens: 50, error: "HTTP 500: x")
        failed.firstText = 0
        let configuration = LoadTestConfiguration(url: "http://127.0.0.1:1", clients: 2, requests: 3, prompt: "Hi?")
        let report = LoadReport(configuration: configuration, samples: [a, b, failed], wallSeconds: 10)
        XCTAssertEqual(report.decodeTokensPerSecond, 13.0 / 8.0, accuracy: 1e-12)
        XCTAssertEqual(report.generatedTokensPerSecond, 1.5, accuracy: 1e-12)
        // The first token is the first chunk, even when the first text comes later (or last).
        a.firstChunk = 1
        a.firstText = 6
        let late = LoadReport(configuration: configuration, samples: [a, b, failed], wallSeconds: 10)
        XCTAssertEqual(late.decodeTokensPerSecond, 13.0 / 9.0, accuracy: 1e-12)
        XCTAssertEqual(late.timeToFirstToken.map { [$0.p50, $0.p95] }, [1, 3])
    }

    func testEventsSplitAnywhereAreReadWhole() {
        let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"é\"}}]}\n\ndata: {\"usage\":{\"completion_tokens\":3}}\r\n\r\ndata: [DONE]\n\n"
        var reader = EventReader()
        var events: [[String: Any]] = []
        for byte in Array(stream.utf8) { events += reader.feed(ByteBuffer(bytes: [byte])) }
        XCTAssertEqual(events.count, 2)
        XCTAssertTrue(reader.sawDone)
        XCTAssertEqual(((events[1]["usage"] as? [String: Int])?["completion_tokens"]), 3)
    }

    func testRequestsAreGreedyStreamedAndCarryTheImage() throws {
        let configuration = LoadTestConfiguration(url: "http://127.0.0.1:1/v1/", clients: 1, requests: 1, prompt: "Hi?",
                                                  imageDataURI: "data:image/png;base64,AAAA", maxTokens: 7)
        XCTAssertEqual(configuration.completionsURL, "http://127.0.0.1:1/v1/chat/completions")
        XCTAssertEqual(configuration.modelsURL, "http://127.0.0.1:1/v1/models")
        let body = try LoadTest(configuration: configuration).requestBody(model: "m")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: body) as? [String: Any])
        XCTAssertEqual(json["stream"] as? Bool, true)
        XCTAssertEqual(json["temperature"] as? Int, 0)
        XCTAssertEqual(json["max_tokens"] as? Int, 7)
        XCTAssertEqual((json["stream_options"] as? [String: Bool])?["include_usage"], true)
        let parts = ((json["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]]) ?? []
        XCTAssertEqual(parts.map { $0["type"] as? String }, ["text", "image_url"])
    }
}
