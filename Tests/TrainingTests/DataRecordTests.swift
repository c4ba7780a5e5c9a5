import Foundation
import TestSupport
@testable import Training
import XCTest

final class DataRecordTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("data-record-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ text: String, _ name: String = "data.json") throws -> URL {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Loading `text` fails with a message naming every fragment.
    private func assertFails(_ text: String, _ name: String = "data.json", naming fragments: [String],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try write(text, name)
        XCTAssertThrowsError(try DataLoading.records(contentsOf: url), file: file, line: line) { error in
            XCTAssertTrue(error is DataError, "\(type(of: error)): \(error)", file: file, line: line)
            for f in fragments + [url.path] {
                XCTAssertTrue("\(error)".contains(f), "\"\(error)\" does not name \(f)", file: file, line: line)
            }
        }
    }

    private let good = #"{"id": "a", "image": "x.png", "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]}"#

    func testDecodesRecordsAndIDs() throws {
        let url = try write("[\(good), {\"id\": 17, \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]}, "
            + "{\"conversations\": [{\"from\": \"gpt\", \"value\": \"x\"}, {\"from\": \"human\", \"value\": \"y\"}]}]")
        let records = try DataLoading.records(contentsOf: url)
        XCTAssertEqual(records.map(\.id), ["a", "17", "#2"])
        XCTAssertEqual(records.map(\.hasImage), [true, false, false])
        XCTAssertEqual(records[0].conversations, [.init(from: .human, value: "<image>\nQ"), .init(from: .gpt, value: "A")])
        XCTAssertEqual(records[0].wordCount, 3)
    }

    func testJSONLinesWithoutIDsArePositioned() throws {
        let url = try write("\(good)\n\n{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]}\n", "data.jsonl")
        XCTAssertEqual(try DataLoading.records(contentsOf: url).map(\.id), ["a", "#1"])
    }

    func testJSONLinesEqualJSONArray() throws {
        let a = try DataLoading.records(contentsOf: Fixtures.url("data/v1.json"))
        let b = try DataLoading.records(contentsOf: Fixtures.url("data/v1.jsonl"))
        XCTAssertEqual(a, b)
        XCTAssertGreaterThan(a.count, 5)
    }

    func testMalformedRecordsNameFileRecordAndField() throws {
        try assertFails("[\(good), {\"id\": \"b\"}]", naming: ["record 1", "\"b\"", "conversations", "missing"])
        try assertFails("[{\"id\": \"c\", \"conversations\": [{\"from\": \"system\", \"value\": \"x\"}]}]",
                        naming: ["record 0", "\"c\"", "conversations[0].from", "\"system\""])
        try assertFails("[{\"id\": \"d\", \"conversations\": [{\"from\": \"human\", \"value\": \"x\"}, {\"from\": \"human\", \"value\": \"y\"}]}]",
                        naming: ["\"d\"", "conversations[1].from", "alternate"])
        try assertFails("[{\"id\": \"e\", \"conversations\": [{\"from\": \"human\"}]}]", naming: ["\"e\"", "conversations[0].value"])
        try assertFails("[{\"id\": \"f\", \"conversations\": []}]", naming: ["\"f\"", "empty"])
        try assertFails("[{\"id\": \"g\", \"image\": [\"a.png\"], \"conversations\": []}]", naming: ["\"g\"", "image"])
        try assertFails("[\(good), {", naming: ["malformed"])
    }

    func testMalformedJSONLineNamesTheLine() throws {
        try assertFails("\(good)\n\n{\"id\": \"h\", \"conversations\": [{\"from\": \"bot\", \"value\": \"x\"}]}\n", "data.jsonl",
                        naming: ["data.jsonl:3", "record 1", "\"h\"", "\"bot\""])
        try assertFails("\(good)\nnot json\n", "data.jsonl", naming: ["data.jsonl:2", "malformed"])
    }

    func testMissingFile() {
        XCTAssertThrowsError(try DataLoading.records(contentsOf: folder.appendingPathComponent("none.json"))) { e in
            XCTAssertTrue("\(e)".contains("none.json"), "\(e)")
        }
    }

    func testImagesCheckedInTheImageFolder() throws {
        let url = try write("[\(good)]")
        XCTAssertThrowsError(try DataLoading.records(contentsOf: url, imageFolder: folder)) { e in
            XCTAssertEqual(e as? DataError, .imageNotFound(file: url.path, index: 0, id: "a",
                                                           path: folder.appendingPathComponent("x.png").path))
            XCTAssertTrue("\(e)".contains("\"a\"") && "\(e)".contains("x.png"), "\(e)")
        }
        try Data([0]).write(to: folder.appendingPathComponent("x.png"))
        XCTAssertEqual(try DataLoading.records(contentsOf: url, imageFolder: folder).count, 1)
        // The fixture records' images exist in Tests/Fixtures/images.
        XCTAssertNoThrow(try DataLoading.records(contentsOf: Fixtures.url("data/v1.json"), imageFolder: Fixtures.url("images")))
    }

    func testPythonTextHelpers() {
        XCTAssertEqual(PythonText.strip("\u{1F}\u{A0} a b\u{2029}\n"), "a b")
        XCTAssertEqual(PythonText.split("a</s>b</s>", on: "</s>"), ["a", "b", ""])
        XCTAssertEqual(PythonText.split("e\u{301}<image>", on: "<image>"), ["e\u{301}", ""])
        XCTAssertEqual(PythonText.split(" a\u{3000}b  c ").count, 3)
        // Scalar-exact: ">" followed by a combining mark is still a match in Python.
        XCTAssertEqual(PythonText.replace("<image>\u{301}x", "<image>", with: ""), "\u{301}x")
    }
}
