import DataGeneration
import Foundation
import XCTest

final class JSONLinesFileTests: XCTestCase {
    struct Row: Codable, Equatable { var id: String; var text: String }
    var url: URL!
    override func setUp() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)/out.jsonl")
    }
    override func tearDown() { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }

    func testAppendsAndReopensWithTheIds() throws {
        do {
            let f = try JSONLinesFile(url: url)
            try f.append(Row(id: "a", text: "Ünïcödé ✓\nnew line"), id: "a")
            try f.append(Row(id: "b", text: "two"), id: "b")
        }
        let again = try JSONLinesFile(url: url)
        XCTAssertEqual(again.ids, ["a", "b"])
        XCTAssertEqual(again.repairedBytes, 0)
        try again.append(Row(id: "c", text: "three"), id: "c")
        XCTAssertEqual(try JSONLinesFile.read(Row.self, from: url).map(\.id), ["a", "b", "c"])
        XCTAssertEqual(try JSONLinesFile.read(Row.self, from: url)[0].text, "Ünïcödé ✓\nnew line")
    }

    func testAHalfWrittenLastLineIsCutOff() throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"te".utf8).write(to: url)
        XCTAssertEqual(try JSONLinesFile.read(Row.self, from: url).map(\.id), ["a"], "readers skip it too")
        let f = try JSONLinesFile(url: url)
        XCTAssertEqual(f.ids, ["a"])
        XCTAssertEqual(f.repairedBytes, 13)
        try f.append(Row(id: "b", text: "y"), id: "b")
        XCTAssertEqual(try JSONLinesFile.read(Row.self, from: url), [Row(id: "a", text: "x"), Row(id: "b", text: "y")])
    }

    func testACorruptCompleteLineIsAnErrorWithItsNumber() throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("{\"id\":\"a\"}\nnot json\n".utf8).write(to: url)
        XCTAssertThrowsError(try JSONLinesFile(url: url)) { XCTAssertTrue("\($0)".contains("line 2"), "\($0)") }
    }
}
