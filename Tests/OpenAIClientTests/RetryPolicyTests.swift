import OpenAIClient
import XCTest

final class RetryPolicyTests: XCTestCase {
    func testBackoffDoublesUpToTheCapWithHalfJitter() {
        let p = RetryPolicy(maxAttempts: 10, baseDelay: .seconds(1), maxDelay: .seconds(8))
        XCTAssertEqual(p.delay(beforeAttempt: 2, retryAfter: nil, unit: 0), .milliseconds(500))
        assertClose(p.delay(beforeAttempt: 2, retryAfter: nil, unit: 0.999_999), .seconds(1), within: .milliseconds(1))
        XCTAssertEqual(p.delay(beforeAttempt: 4, retryAfter: nil, unit: 0), .seconds(2))
        XCTAssertEqual(p.delay(beforeAttempt: 9, retryAfter: nil, unit: 0), .seconds(4))  // capped at 8, half fixed
        XCTAssertEqual(p.delay(beforeAttempt: 60, retryAfter: nil, unit: 0), .seconds(4))
    }

    func testRetryAfterWinsUpToItsCap() {
        let p = RetryPolicy(baseDelay: .milliseconds(10), maxRetryAfter: .seconds(30))
        XCTAssertEqual(p.delay(beforeAttempt: 2, retryAfter: .seconds(3), unit: 0.5), .seconds(3))
        XCTAssertEqual(p.delay(beforeAttempt: 2, retryAfter: .seconds(3600), unit: 0.5), .seconds(30))
    }

    func testRetryAfterHeaderForms() {
        XCTAssertEqual(RetryPolicy.parseRetryAfter("2"), .seconds(2))
        XCTAssertEqual(RetryPolicy.parseRetryAfter(" 0.5 "), .milliseconds(500))
        XCTAssertNil(RetryPolicy.parseRetryAfter(nil))
        XCTAssertNil(RetryPolicy.parseRetryAfter("soon"))
        XCTAssertNil(RetryPolicy.parseRetryAfter("-3"))
        let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        XCTAssertEqual(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", now: now), .seconds(10))
        XCTAssertEqual(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:27 GMT", now: now), .zero)
    }
}

func assertClose(_ a: Duration, _ b: Duration, within accuracy: Duration, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertLessThanOrEqual(abs((a - b) / .nanoseconds(1)), Double(accuracy / .nanoseconds(1)), "\(a) vs \(b)", file: file, line: line)
}
