import XCTest
final class VisionTestsPlaceholder: XCTestCase { func testNothing() {} }
