import XCTest
final class LLaVATestsPlaceholder: XCTestCase { func testNothing() {} }
