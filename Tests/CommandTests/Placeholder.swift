import XCTest
final class CommandTestsPlaceholder: XCTestCase { func testNothing() {} }
