import XCTest
final class DataGenerationTestsPlaceholder: XCTestCase { func testNothing() {} }
