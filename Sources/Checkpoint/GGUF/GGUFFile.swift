import Foundation
import Tensor

/// Where a tensor lies in a GGUF file and what it holds.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    /// PyTorch order (slowest dimension first): GGUF's `ne` reversed, so a linear weight is [out, in].
    public let shape: [Int]
    /// Byte range within the file.
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A GGUF file (llama.cpp's format), memory-mapped and validated when opened.
///
/// Opening reads the whole header with bounds checks: every count is checked against the bytes
/// left, dimensions against ggml's limits, each tensor's size against its type's blocks, its
/// offset against the alignment and the end of the file, and tensors against each other for
/// overlaps. A truncated or lying file fails with a `GGUFError` naming what is wrong; it never
/// crashes or reads past the mapping.
///
/// ```swift
/// let file = try GGUFFile(url: URL(fileURLWithPath: "llava-v1.5-7b-Q4_K_M.gguf"))
/// print(file.metadata["general.architecture"]?.string ?? "?")
/// let embed = try file.dequantized("token_embd.weight")   // f32 [vocab, dim]
/// ```
public final class GGUFFile: @unchecked Sendable {
    public let url: URL
    public let storage: Storage
    public let version: UInt32
    public let alignment: Int
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensorInfos: [GGUFTensorInfo]
    private let byName: [String: GGUFTensorInfo]

    /// Largest dimension accepted (ggml's own limit is INT64_MAX; no real tensor comes near 2^40).
    static let maxDimension: UInt64 = 1 << 40

    public init(url: URL) throws {
        self.url = url
        storage = try mapFile(url)
        var cursor = GGUFCursor(bytes: UnsafeRawBufferPointer(start: storage.base, count: storage.byteCount), file: url.path)
        let magic = try? cursor.u32("magic")
        guard magic == 0x4655_4747 else { throw GGUFError.notGGUF(file: url.path) }
        version = try cursor.u32("version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(file: url.path, version: version) }
        // Each tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes, each key/value at least 8 + 4 + 1.
        let tensorCount = try cursor.count("tensor count", itemBytes: 32)
        let kvCount = try cursor.count("metadata count", itemBytes: 13)
        var metadata: [String: GGUFValue] = [:]
        for i in 0..<kvCount {
            let key = try cursor.string("metadata key \(i)")
            let type = try cursor.u32("type of metadata '\(key)'")
            metadata[key] = try cursor.value(type: type, key: key)
        }
        self.metadata = metadata
        alignment = try Self.alignment(metadata, file: url.path)
        var infos: [(name: String, type: GGMLType, shape: [Int], offset: UInt64)] = []
        for i in 0..<tensorCount { infos.append(try Self.readTensorInfo(&cursor, index: i)) }
        let dataStart = (cursor.offset + alignment - 1) / alignment * alignment
        tensorInfos = try Self.place(infos, dataStart: dataStart, fileSize: storage.byteCount, alignment: alignment, file: url.path)
        byName = Dictionary(tensorInfos.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private static func alignment(_ metadata: [String: GGUFValue], file: String) throws -> Int {
        guard let value = metadata["general.alignment"] else { return 32 }
        guard let a = value.int, a > 0, a <= 1 << 20, a & (a - 1) == 0 else {
            throw GGUFError.invalidMetadata(file: file, key: "general.alignment", reason: "expected a power of two, found \(value)")
        }
        return a
    }

    private static func readTensorInfo(_ c: inout GGUFCursor, index: Int) throws
        -> (name: String, type: GGMLType, shape: [Int], offset: UInt64) {
        let name = try c.string("name of tensor \(index)")
        let dims = try c.u32("dimension count of '\(name)'")
        guard (1...4).contains(dims) else { throw GGUFError.implausible(file: c.file, what: "dimension count of '\(name)'", value: UInt64(dims)) }
        var ne: [Int] = []
        for d in 0..<Int(dims) {
            let n = try c.u64("dimension \(d) of '\(name)'")
            guard n <= maxDimension else { throw GGUFError.implausible(file: c.file, what: "dimension \(d) of '\(name)'", value: n) }
            ne.append(Int(n))
        }
        let raw = try c.u32("type of '\(name)'")
        guard let type = GGMLType(rawValue: raw) else { throw GGUFError.unsupportedTensorType(file: c.file, tensor: name, type: raw) }
        let offset = try c.u64("data offset of '\(name)'")
        return (name, type, Array(ne.reversed()), offset)
    }

    /// Checks sizes, alignment, bounds and overlaps; returns the infos with byte ranges in the file.
    private static func place(_ infos: [(name: String, type: GGMLType, shape: [Int], offset: UInt64)],
                              dataStart: Int, fileSize: Int, alignment: Int, file: String) throws -> [GGUFTensorInfo] {
        let dataSize = max(0, fileSize - dataStart)
        var placed: [GGUFTensorInfo] = []
        var seen = Set<String>()
        for t in infos {
            guard seen.insert(t.name).inserted else { throw GGUFError.duplicateTensor(file: file, tensor: t.name) }
            var count = 1, overflow = false
            for n in t.shape where !overflow { (count, overflow) = count.multipliedReportingOverflow(by: n) }
            guard !overflow, t.shape.last! % t.type.blockSize == 0, let bytes = t.type.byteCount(elements: count) else {
                throw GGUFError.invalidShape(file: file, tensor: t.name, shape: t.shape, type: t.type)
            }
            guard t.offset % UInt64(alignment) == 0, t.offset <= UInt64(dataSize), bytes <= dataSize - Int(t.offset) else {
                throw GGUFError.invalidOffset(file: file, tensor: t.name, offset: t.offset, bytes: bytes, dataSize: dataSize)
            }
            let start = dataStart + Int(t.offset)
            placed.append(GGUFTensorInfo(name: t.name, type: t.type, shape: t.shape, byteRange: start..<start + bytes))
        }
        let sorted = placed.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw GGUFError.overlappingTensors(file: file, first: a.name, second: b.name)
        }
        return placed
    }

    /// Every tensor name, in file order.
    public var tensorNames: [String] { tensorInfos.map(\.name) }

    public func info(_ name: String) -> GGUFTensorInfo? { byName[name] }

    /// The tensor's raw bytes (blocks as stored).
    public func rawBytes(_ info: GGUFTensorInfo) -> UnsafeRawPointer {
        UnsafeRawPointer(storage.base + info.byteRange.lowerBound)
    }

    /// The tensor as f32 (or as `dtype`, f16 or bf16): float types widened exactly, quantised
    /// types expanded block by block with ggml's own formulas.
    public func dequantized(_ name: String, to dtype: DType = .f32) throws -> Tensor {
        guard let info = byName[name] else { throw GGUFError.missing(file: url.path, what: "tensor '\(name)'") }
        let out = Tensor(zeros: info.shape, dtype: .f32)
        dequantizeGGML(type: info.type.rawValue, source: rawBytes(info), into: out.floats, count: info.elementCount)
        return dtype == .f32 ? out : out.converted(to: dtype)
    }
}
