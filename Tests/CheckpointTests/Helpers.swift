import Foundation
import XCTest
@testable import Checkpoint
import Tensor

/// A fresh directory under the system temp folder, removed when the test ends.
func makeTempDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("CheckpointTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// A safetensors file assembled by hand: 8-byte little-endian header length, `header` verbatim, `data`.
func rawSafetensors(header: String, data: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + data
}

/// Writes `bytes` to `name` inside `dir`.
@discardableResult
func writeBytes(_ bytes: [UInt8], _ name: String, in dir: URL) throws -> URL {
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

/// Little-endian bytes of f32 values.
func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}

/// The raw bytes a tensor views.
func bytesOf(_ t: Tensor) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: t.rawPointer, count: t.byteCount))
}

/// Asserts that `body` throws exactly `expected`, and that its description mentions every one of `mentions`.
func assertCheckpointError<T>(_ body: @autoclosure () throws -> T, _ expected: CheckpointError,
                              mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let e = error as? CheckpointError else {
            return XCTFail("expected CheckpointError, got \(error)", file: file, line: line)
        }
        XCTAssertEqual(e, expected, file: file, line: line)
        for m in mentions {
            XCTAssertTrue(e.description.contains(m), "'\(e.description)' does not mention '\(m)'", file: file, line: line)
        }
    }
}
