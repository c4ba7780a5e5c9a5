import XCTest
final class LanguageTestsPlaceholder: XCTestCase { func testNothing() {} }
