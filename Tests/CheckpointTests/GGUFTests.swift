import Foundation
import XCTest
@testable import Checkpoint
import Tensor
import TestSupport

/// A GGUF header assembled by hand, field by field, so a test can write any lie.
struct GGUFBytes {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { bytes += withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    mutating func u64(_ v: UInt64) { bytes += withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }

    /// A valid file: one F32 tensor `w` of shape [2, 4] (ne = [4, 2]) at offset 0.
    static func valid(dims: [UInt64] = [4, 2], type: UInt32 = 0, offset: UInt64 = 0, tensorCount: UInt64 = 1,
                      version: UInt32 = 3, dataBytes: Int = 32, extraTensor: (String, UInt64)? = nil) -> [UInt8] {
        var b = GGUFBytes()
        b.bytes += Array("GGUF".utf8)
        b.u32(version)
        b.u64(tensorCount)
        b.u64(1)
        b.string("general.architecture"); b.u32(8); b.string("llama")
        for (name, off) in [("w", offset)] + (extraTensor.map { [$0] } ?? []) {
            b.string(name); b.u32(UInt32(dims.count))
            for d in dims { b.u64(d) }
            b.u32(type); b.u64(off)
        }
        b.pad(to: 32)
        b.bytes += [UInt8](repeating: 0, count: dataBytes)
        return b.bytes
    }
}

final class GGUFTests: XCTestCase {
    func open(_ bytes: [UInt8]) throws -> GGUFFile {
        try GGUFFile(url: try writeBytes(bytes, "t.gguf", in: try makeTempDirectory(self)))
    }

    func testMetadataOfEveryKindIsRead() throws {
        let file = try GGUFFile(url: Fixtures.url("gguf/types.gguf"))
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.metadata["general.architecture"], .string("llama"))
        XCTAssertEqual(file.metadata["test.u32"]?.int, 7)
        XCTAssertEqual(file.metadata["test.i32"], .signed(-3))
        XCTAssertEqual(file.metadata["test.f32"]?.double, 0.25)
        XCTAssertEqual(file.metadata["test.bool"], .bool(true))
        XCTAssertEqual(file.metadata["test.string"], .string("héllo ✓"))
        XCTAssertEqual(file.metadata["test.strings"], .array([.string("a"), .string("▁b"), .string("<0x0A>")]))
        XCTAssertEqual(file.metadata["test.ints"]?.array?.compactMap(\.int), [1, 2, 3])
    }

    /// Every type expands exactly as the `gguf` package's reference dequantisation does.
    func testEveryTypeDequantizesBitForBitAsTheReference() throws {
        let file = try GGUFFile(url: Fixtures.url("gguf/types.gguf"))
        let reference = try Fixtures.tensors("gguf/types.reference.safetensors")
        XCTAssertEqual(Set(file.tensorInfos.map(\.type)), Set(GGMLType.allCases))
        for info in file.tensorInfos {
            XCTAssertEqual(info.shape, [3, 512], info.name)
            let ours = try file.dequantized(info.name).toFloatArray()
            let theirs = try reference.tensor(info.name).toFloatArray()
            XCTAssertEqual(ours.map(\.bitPattern), theirs.map(\.bitPattern), "\(info.name) (\(info.type))")
        }
    }

    func testAValidHandWrittenFileOpens() throws {
        let file = try open(GGUFBytes.valid())
        XCTAssertEqual(file.info("w")?.shape, [2, 4])
        XCTAssertEqual(file.info("w")?.byteRange.count, 32)
    }

    /// Every prefix of a valid file is refused with a typed error, never a crash.
    func testEveryTruncationIsATypedError() throws {
        let bytes = GGUFBytes.valid()
        for cut in stride(from: 0, to: bytes.count, by: 3) {
            XCTAssertThrowsError(try open(Array(bytes.prefix(cut))), "cut at \(cut)") { error in
                XCTAssertTrue(error is GGUFError, "cut at \(cut): \(error)")
            }
        }
    }

    func testLiesAreNamed() throws {
        func expect(_ bytes: [UInt8], _ check: (GGUFError) -> Bool, _ label: String) {
            XCTAssertThrowsError(try open(bytes), label) { error in
                guard let e = error as? GGUFError else { return XCTFail("\(label): \(error)") }
                XCTAssertTrue(check(e), "\(label): \(e)")
            }
        }
        var wrongMagic = GGUFBytes.valid()
        wrongMagic[0] = UInt8(ascii: "X")
        expect(wrongMagic, { if case .notGGUF = $0 { true } else { false } }, "magic")
        expect(GGUFBytes.valid(version: 1), { $0 == .unsupportedVersion(file: $0.file, version: 1) }, "version")
        expect(GGUFBytes.valid(tensorCount: 1 << 60), { if case .implausible = $0 { true } else { false } }, "tensor count")
        expect(GGUFBytes.valid(offset: 64), { if case .invalidOffset = $0 { true } else { false } }, "offset past end")
        expect(GGUFBytes.valid(offset: 4), { if case .invalidOffset = $0 { true } else { false } }, "misaligned offset")
        expect(GGUFBytes.valid(dims: [1 << 50, 2]), { if case .implausible = $0 { true } else { false } }, "absurd dimension")
        expect(GGUFBytes.valid(dims: [1 << 39, 1 << 39]), { if case .invalidShape = $0 { true } else { false } }, "overflowing size")
        expect(GGUFBytes.valid(dims: [1, 1, 1, 1, 1]), { if case .implausible = $0 { true } else { false } }, "five dimensions")
        expect(GGUFBytes.valid(type: 99), { if case .unsupportedTensorType(_, "w", 99) = $0 { true } else { false } }, "unknown type")
        expect(GGUFBytes.valid(dims: [4, 2], type: 8), { if case .invalidShape = $0 { true } else { false } }, "row not whole Q8_0 blocks")
        expect(GGUFBytes.valid(tensorCount: 2, dataBytes: 64, extraTensor: ("v", 0)),
               { if case .overlappingTensors = $0 { true } else { false } }, "overlap")
        expect(GGUFBytes.valid(tensorCount: 2, dataBytes: 64, extraTensor: ("w", 32)),
               { if case .duplicateTensor = $0 { true } else { false } }, "duplicate")
    }
}

extension GGUFError {
    var file: String {
        switch self {
        case let .notGGUF(f), let .unsupportedVersion(f, _), let .truncated(f, _, _), let .implausible(f, _, _),
             let .unknownValueType(f, _, _), let .invalidMetadata(f, _, _), let .unsupportedTensorType(f, _, _),
             let .invalidShape(f, _, _, _), let .invalidOffset(f, _, _, _, _), let .overlappingTensors(f, _, _),
             let .duplicateTensor(f, _), let .missing(f, _), let .shapeMismatch(f, _, _, _):
            return f
        }
    }
}
