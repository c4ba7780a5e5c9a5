import Foundation
import XCTest
@testable import Checkpoint
import Tensor

/// Writer → reader round trips, the reference byte layout, and the no-copy / alignment contract.
final class SafeTensorsFileTests: XCTestCase {
    // MARK: - Round trips

    func testRoundTripEveryDTypeWithMetadata() throws {
        let dir = try makeTempDirectory(self)
        let values: [Float] = [0, 1, -2, 3.5, 100, -0.25]
        let source = Tensor(values, shape: [2, 3])
        let tensors = DType.safetensorsTypes.map { (name: "t.\($0.rawValue)", tensor: source.converted(to: $0)) }
        let url = dir.appendingPathComponent("all.safetensors")
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt", "step": "7"], to: url)

        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.tensorNames, tensors.map(\.name).sorted())
        XCTAssertEqual(file.metadata, ["format": "pt", "step": "7"])
        for (name, written) in tensors {
            let read = try file.tensor(name)
            XCTAssertEqual(read.dtype, written.dtype, name)
            XCTAssertEqual(read.shape, [2, 3], name)
            XCTAssertEqual(bytesOf(read), bytesOf(written), name)
            XCTAssertEqual(read.toFloatArray(), written.toFloatArray(), name)
            XCTAssertEqual(file.info(name)?.byteRange.count, 6 * written.dtype.size, name)
        }
        // Float types hold these values exactly; the integer types hold what `converted(to:)` made.
        XCTAssertEqual(try file.tensor("t.F32").toFloatArray(), values)
        XCTAssertEqual(try file.tensor("t.BF16").toFloatArray(), values)
        XCTAssertEqual(try file.tensor("t.I64").toFloatArray(), [0, 1, -2, 3, 100, 0])  // truncated toward zero
    }

    func testNoMetadataWritesNoMetadataKeyAndZeroLengthTensorsAreAllowed() throws {
        let dir = try makeTempDirectory(self)
        let url = dir.appendingPathComponent("empty.safetensors")
        try SafeTensorsWriter.write([("e", Tensor(zeros: [0, 4])), ("s", Tensor([5], shape: []))], metadata: nil, to: url)
        let header = String(decoding: try Data(contentsOf: url)[8...], as: UTF8.self)
        XCTAssertFalse(header.contains("__metadata__"))
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.metadata, [:])
        XCTAssertEqual(try file.tensor("e").shape, [0, 4])
        XCTAssertEqual(try file.tensor("e").count, 0)
        XCTAssertEqual(try file.tensor("s").shape, [])
        XCTAssertEqual(try file.tensor("s").toFloatArray(), [5])
    }

    func testAtomicWriteLeavesNoTempFileAndReplacesTheOldFile() throws {
        let dir = try makeTempDirectory(self)
        let url = dir.appendingPathComponent("w.safetensors")
        try SafeTensorsWriter.write([("a", Tensor([1, 2], shape: [2]))], metadata: nil, to: url)
        try SafeTensorsWriter.write([("a", Tensor([3, 4, 5], shape: [3]))], metadata: nil, to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["w.safetensors"])
        XCTAssertEqual(try SafeTensorsFile(url: url).tensor("a").toFloatArray(), [3, 4, 5])
    }

    func testFailedWriteLeavesNothingBehind() throws {
        let dir = try makeTempDirectory(self)
        let url = dir.appendingPathComponent("dup.safetensors")
        let t = Tensor([1], shape: [1])
        assertCheckpointError(try SafeTensorsWriter.write([("a", t), ("a", t)], metadata: nil, to: url),
                              .invalidTensorName(file: url.path, tensor: "a", reason: "name given twice"),
                              mentions: ["dup.safetensors", "'a'"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    // MARK: - Reference layout

    /// Bytes `safetensors.torch.save_file` (0.4, serde_json) produces for
    /// `{"z.idx": int64 [7, -1], "a": arange(6).float().reshape(2, 3), "b": half [1, -2]}`
    /// with metadata `{"format": "pt", "note": "q\"\né"}`: the reference sorts by dtype size
    /// then name, so give the tensors in that order.
    func testWriterMatchesReferenceBytes() throws {
        let header = #"{"__metadata__":{"format":"pt","note":"q\"\n"# + "é" + #""},"#
            + #""z.idx":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"#
            + #""a":{"dtype":"F32","shape":[2,3],"data_offsets":[16,40]},"#
            + #""b":{"dtype":"F16","shape":[2],"data_offsets":[40,44]}}"#
        XCTAssertEqual(header.utf8.count, 219)
        let padded = header + String(repeating: " ", count: 5)  // 8 + 224 is a multiple of 8
        let data: [UInt8] = [7, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0xff, count: 8)
            + f32Bytes([0, 1, 2, 3, 4, 5]) + [0x00, 0x3c, 0x00, 0xc0]  // f16 1.0, -2.0
        let expected = rawSafetensors(header: padded, data: data)

        let dir = try makeTempDirectory(self)
        let url = dir.appendingPathComponent("ref.safetensors")
        try SafeTensorsWriter.write([
            ("z.idx", Tensor([7, -1], shape: [2]).converted(to: .i64)),
            ("a", Tensor([0, 1, 2, 3, 4, 5], shape: [2, 3])),
            ("b", Tensor([1, -2], shape: [2]).converted(to: .f16)),
        ], metadata: ["note": "q\"\né", "format": "pt"], to: url)
        XCTAssertEqual([UInt8](try Data(contentsOf: url)), expected)

        // The dictionary form orders tensors as the reference does.
        let dictURL = dir.appendingPathComponent("dict.safetensors")
        try SafeTensorsWriter.write([
            "b": Tensor([1, -2], shape: [2]).converted(to: .f16),
            "a": Tensor([0, 1, 2, 3, 4, 5], shape: [2, 3]),
            "z.idx": Tensor([7, -1], shape: [2]).converted(to: .i64),
        ], metadata: ["format": "pt", "note": "q\"\né"], to: dictURL)
        XCTAssertEqual([UInt8](try Data(contentsOf: dictURL)), expected)
    }

    func testReadsHeaderWithKeysInAnyOrderAndPaddingAndExtraKeys() throws {
        let header = #"{ "b": {"data_offsets": [8, 12], "shape": [1], "dtype": "F32"},"#
            + #"  "a": {"shape": [2], "dtype": "F32", "data_offsets": [0, 8]},"#
            + #"  "__metadata__": {"format": "pt"} }"# + "      "
        let dir = try makeTempDirectory(self)
        let url = try writeBytes(rawSafetensors(header: header, data: f32Bytes([1, 2, 3])), "any.safetensors", in: dir)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.tensorNames, ["a", "b"])
        XCTAssertEqual(file.info("b"), TensorInfo(dtype: .f32, shape: [1], byteRange: 8..<12))
        XCTAssertEqual(try file.tensor("a").toFloatArray(), [1, 2])
        XCTAssertEqual(try file.tensor("b").toFloatArray(), [3])
        XCTAssertEqual(file.metadata, ["format": "pt"])
    }

    // MARK: - Mapping and alignment

    func testTensorsViewTheMappingWithoutCopying() throws {
        let dir = try makeTempDirectory(self)
        let url = dir.appendingPathComponent("m.safetensors")
        try SafeTensorsWriter.write([("a", Tensor([1, 2, 3], shape: [3])), ("b", Tensor([4], shape: [1]))],
                                    metadata: nil, to: url)
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        let file = try SafeTensorsFile(url: url)
        let a = try file.tensor("a"), b = try file.tensor("b")
        XCTAssertEqual(a.storage.byteCount, size)
        XCTAssertTrue(a.storage === file.storage && b.storage === file.storage)
        XCTAssertEqual(a.offset, file.dataStart)
        XCTAssertEqual(b.offset, file.dataStart + 12)
        XCTAssertEqual(Int(bitPattern: a.rawPointer) % 4, 0)
    }

    func testTensorsOutliveTheFileObject() throws {
        let dir = try makeTempDirectory(self)
        let url = dir.appendingPathComponent("life.safetensors")
        try SafeTensorsWriter.write([("a", Tensor([1, 2, 3], shape: [3]))], metadata: nil, to: url)
        var file: SafeTensorsFile? = try SafeTensorsFile(url: url)
        let a = try file!.tensor("a")
        file = nil
        XCTAssertEqual(a.toFloatArray(), [1, 2, 3])
    }

    /// A header of 114 bytes puts the data section at file offset 10, so f32s sit at addresses ≡ 2 (mod 4).
    func testMisalignedF32IsCopiedToAlignedMemoryWithCorrectValues() throws {
        let header = #"{"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"#
            + #""h":{"dtype":"F16","shape":[1],"data_offsets":[16,18]}}"# + "  "
        let dir = try makeTempDirectory(self)
        let data = f32Bytes([1.5, -2, 3e-5, 1e30]) + [0x00, 0x3c]
        let url = try writeBytes(rawSafetensors(header: header, data: data), "odd.safetensors", in: dir)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.dataStart % 4, 2)
        let x = try file.tensor("x")
        XCTAssertEqual(Int(bitPattern: x.rawPointer) % 4, 0)
        XCTAssertFalse(x.storage === file.storage)  // the rare copy
        XCTAssertEqual(x.toFloatArray(), [1.5, -2, 3e-5, 1e30])
        let h = try file.tensor("h")                // f16 at an even address: still a view
        XCTAssertTrue(h.storage === file.storage)
        XCTAssertEqual(h.toFloatArray(), [1])
    }
}
