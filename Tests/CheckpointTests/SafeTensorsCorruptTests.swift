import Foundation
import XCTest
@testable import Checkpoint
import Tensor

/// Every malformed file fails at open with the exact error case, naming the file and the tensor.
final class SafeTensorsCorruptTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTempDirectory(self) }

    /// Writes `bytes` as `name` and asserts opening it throws `expected(path)`.
    private func assertOpenFails(_ bytes: [UInt8], _ name: String, mentions: [String] = [],
                                 _ expected: (String) -> CheckpointError,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try writeBytes(bytes, name, in: dir)
        assertCheckpointError(try SafeTensorsFile(url: url), expected(url.path),
                              mentions: [name] + mentions, file: file, line: line)
    }

    private let good = #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#

    // MARK: - Framing

    func testEmptyFile() throws {
        try assertOpenFails([], "empty.safetensors") { .fileTooShort(file: $0, size: 0) }
    }

    func testFileShorterThanEightBytes() throws {
        try assertOpenFails([1, 0, 0], "short.safetensors", mentions: ["3 bytes"]) { .fileTooShort(file: $0, size: 3) }
    }

    func testHeaderLengthPastEnd() throws {
        var bytes = rawSafetensors(header: good, data: f32Bytes([1, 2, 3, 4, 5, 6]))
        bytes[0] = 0xff; bytes[1] = 0x0f  // 4095
        try assertOpenFails(bytes, "longhdr.safetensors", mentions: ["4095"]) {
            .headerPastEnd(file: $0, headerLength: 4095, fileSize: bytes.count)
        }
    }

    func testAbsurdHeaderLength() throws {
        // 200 MB declared; sparse file of that size so only the length check can fail.
        let url = dir.appendingPathComponent("huge.safetensors")
        let n = 200_000_000
        try Data(withUnsafeBytes(of: UInt64(n).littleEndian) { Array($0) }).write(to: url)
        let h = try FileHandle(forWritingTo: url)
        try h.truncate(atOffset: UInt64(8 + n))
        try h.close()
        assertCheckpointError(try SafeTensorsFile(url: url),
                              .headerTooLarge(file: url.path, headerLength: UInt64(n), limit: 100_000_000),
                              mentions: ["huge.safetensors", "200000000"])
    }

    func testNonJSONHeader() throws {
        for (i, header) in ["not json at all", #"{"w":"#, "", "{} trailing"].enumerated() {
            let url = try writeBytes(rawSafetensors(header: header, data: []), "text\(i).safetensors", in: dir)
            XCTAssertThrowsError(try SafeTensorsFile(url: url)) { error in
                guard case let .invalidHeader(file, reason)? = error as? CheckpointError else { return XCTFail("\(error)") }
                XCTAssertEqual(file, url.path)
                XCTAssertTrue(reason.hasPrefix("not valid JSON"), reason)
                XCTAssertTrue("\(error)".contains("text\(i).safetensors"))
            }
        }
    }

    func testHeaderNotUTF8() throws {
        var bytes = rawSafetensors(header: #"{"a":1}"#, data: [])
        bytes[10] = 0xff
        try assertOpenFails(bytes, "latin.safetensors", mentions: ["UTF-8"]) {
            .invalidHeader(file: $0, reason: "not valid UTF-8")
        }
    }

    func testHeaderNotAnObject() throws {
        try assertOpenFails(rawSafetensors(header: "[1, 2]", data: []), "array.safetensors", mentions: ["object"]) {
            .invalidHeader(file: $0, reason: "expected a JSON object, found an array")
        }
    }

    func testMetadataNotStringMap() throws {
        let header = #"{"__metadata__":{"total_size":12}}"#
        try assertOpenFails(rawSafetensors(header: header, data: []), "meta.safetensors", mentions: ["total_size"]) {
            .invalidMetadata(file: $0, reason: "value of 'total_size' is a number, not a string")
        }
    }

    // MARK: - Entries

    func testTruncatedData() throws {
        let bytes = rawSafetensors(header: good, data: f32Bytes([1, 2, 3, 4, 5]))  // 20 of 24 bytes
        try assertOpenFails(bytes, "cut.safetensors", mentions: ["'w'", "24", "20"]) {
            .rangePastEnd(file: $0, tensor: "w", end: 24, dataSize: 20)
        }
    }

    func testByteRangeDisagreesWithShape() throws {
        let header = #"{"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#
        let url = try writeBytes(rawSafetensors(header: header, data: f32Bytes([1, 2, 3, 4, 5, 6])), "model.safetensors", in: dir)
        let expected = CheckpointError.byteCountMismatch(file: url.path, tensor: "x", shape: [2, 3], dtype: .f32,
                                                         expectedBytes: 24, start: 0, end: 20)
        assertCheckpointError(try SafeTensorsFile(url: url), expected, mentions: ["model.safetensors"])
        XCTAssertEqual(expected.description,
                       "\(url.path): tensor 'x' has shape [2, 3] (F32, 24 bytes) but byte range 0..<20 (20 bytes)")
    }

    func testUnknownDType() throws {
        for dtype in ["F64", "I8", "BOOL", "F8_E4M3"] {
            let header = #"{"m":{"dtype":""# + dtype + #"","shape":[1],"data_offsets":[0,1]}}"#
            try assertOpenFails(rawSafetensors(header: header, data: [0]), "dt-\(dtype).safetensors", mentions: ["'m'", dtype]) {
                .unsupportedDType(file: $0, tensor: "m", dtype: dtype)
            }
        }
    }

    func testOverlappingRanges() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        try assertOpenFails(rawSafetensors(header: header, data: f32Bytes([1, 2, 3])), "overlap.safetensors",
                            mentions: ["'a'", "'b'"]) {
            .overlappingRanges(file: $0, first: "a", firstRange: 0..<8, second: "b", secondRange: 4..<12)
        }
    }

    func testNegativeDimension() throws {
        let header = #"{"n":{"dtype":"U8","shape":[-1,2],"data_offsets":[0,2]}}"#
        try assertOpenFails(rawSafetensors(header: header, data: [0, 0]), "neg.safetensors", mentions: ["'n'"]) {
            .negativeDimension(file: $0, tensor: "n", shape: [-1, 2])
        }
    }

    func testRangeEndBeforeStart() throws {
        let header = #"{"r":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}}"#
        try assertOpenFails(rawSafetensors(header: header, data: [0, 0, 0, 0]), "rev.safetensors", mentions: ["'r'"]) {
            .invalidByteRange(file: $0, tensor: "r", start: 4, end: 2)
        }
    }

    func testOverflowingShapeDoesNotTrap() throws {
        let header = #"{"o":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#
        try assertOpenFails(rawSafetensors(header: header, data: [0, 0, 0, 0]), "ovf.safetensors", mentions: ["'o'"]) {
            .byteCountMismatch(file: $0, tensor: "o", shape: [4611686018427387904, 4], dtype: .f32,
                               expectedBytes: nil, start: 0, end: 4)
        }
    }

    func testMalformedEntries() throws {
        let cases: [(String, String)] = [
            (#"{"dtype":"F32","shape":[1]}"#, "missing 'data_offsets'"),
            (#"{"shape":[1],"data_offsets":[0,4]}"#, "missing 'dtype'"),
            (#"{"dtype":"F32","data_offsets":[0,4]}"#, "missing 'shape'"),
            (#"{"dtype":3,"shape":[1],"data_offsets":[0,4]}"#, "'dtype' is a number, not a string"),
            (#"{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}"#, "'shape' is not an array of integers"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[0]}"#, "'data_offsets' is not an array of two integers"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":"0-4"}"#, "'data_offsets' is not an array of two integers"),
            (#""F32""#, "entry is a string, not an object"),
        ]
        for (i, (entry, reason)) in cases.enumerated() {
            let header = #"{"e":"# + entry + "}"
            try assertOpenFails(rawSafetensors(header: header, data: [0, 0, 0, 0]), "entry\(i).safetensors",
                                mentions: ["'e'", reason]) {
                .invalidEntry(file: $0, tensor: "e", reason: reason)
            }
        }
    }

    func testMissingFile() throws {
        let url = dir.appendingPathComponent("absent.safetensors")
        assertCheckpointError(try SafeTensorsFile(url: url), .io(file: url.path, operation: "open", errno: ENOENT),
                              mentions: ["absent.safetensors"])
    }
}
