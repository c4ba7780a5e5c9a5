import Foundation
import TestSupport
import XCTest

/// Every corrupt safetensors file makes `llava generate` exit non-zero with a message
/// naming the file, never crash or hang.
final class CorruptCheckpointTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-corrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: Fixtures.url("llama/mha/\(f)"), to: dir.appendingPathComponent(f))
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A file with the given JSON header and `data` bytes of payload.
    func file(header: String, data: Int, declaredLength: UInt64? = nil) -> Data {
        let h = Data(header.utf8)
        var length = declaredLength ?? UInt64(h.count)
        var out = Data(bytes: &length, count: 8)
        out.append(h)
        out.append(Data(repeating: 0, count: data))
        return out
    }

    func expectFailure(_ bytes: Data, mentioning needle: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = dir.appendingPathComponent("model.safetensors")
        try bytes.write(to: path)
        let r = try LLaVAExecutable.run(["generate", "--model", dir.path, "--prompt", "hi", "--max-new-tokens", "2"])
        XCTAssertNotEqual(r.status, 0, "expected failure", file: file, line: line)
        XCTAssertTrue(r.stderr.contains("model.safetensors"), "stderr should name the file: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.lowercased().contains(needle.lowercased()), "stderr should mention \(needle): \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
    }

    func testTruncatedFile() throws {
        let good = try Data(contentsOf: Fixtures.url("llama/mha/model.safetensors"))
        try expectFailure(good.prefix(good.count / 2), mentioning: "model.")
    }

    func testHeaderLengthPastEnd() throws {
        try expectFailure(file(header: "{}", data: 0, declaredLength: 1 << 20), mentioning: "header")
    }

    func testByteRangeDisagreesWithShape() throws {
        try expectFailure(file(header: #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#, data: 20), mentioning: "'w'")
    }

    func testUnknownDType() throws {
        try expectFailure(file(header: #"{"w":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}"#, data: 8), mentioning: "Q9")
    }

    func testOverlappingRanges() throws {
        try expectFailure(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: 12),
                          mentioning: "overlap")
    }

    func testNonJSONHeader() throws {
        try expectFailure(file(header: "this is not json", data: 0), mentioning: "JSON")
    }

    func testEmptyFile() throws {
        try expectFailure(Data(), mentioning: "model.safetensors")
    }

    func testValidFileMissingWeights() throws {
        try expectFailure(file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 8), mentioning: "embed_tokens")
    }
}
