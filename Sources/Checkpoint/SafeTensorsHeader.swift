import Foundation
import Tensor

// Safetensors layout (https://github.com/huggingface/safetensors):
//
//   [8 bytes]  N, the header length, little-endian u64
//   [N bytes]  JSON object, UTF-8, possibly padded with trailing spaces:
//              { "__metadata__": {"k": "v", ...},            (optional)
//                "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ... }
//   [rest]     the data section; data_offsets are relative to its start (byte 8 + N)

/// What a safetensors header says about one tensor.
public struct TensorInfo: Sendable, Equatable {
    public let dtype: DType
    public let shape: [Int]
    /// The tensor's bytes relative to the start of the data section (`data_offsets`).
    public let byteRange: Range<Int>

    public init(dtype: DType, shape: [Int], byteRange: Range<Int>) {
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }
}

/// A validated safetensors header: every entry well-typed, sized and inside the data section.
struct SafeTensorsHeader {
    /// The reference implementation refuses headers above this many bytes.
    static let maxHeaderLength = 100_000_000

    /// Offset of the data section from the start of the file.
    let dataStart: Int
    let entries: [String: TensorInfo]
    let metadata: [String: String]

    /// Parses and checks the header of the file whose bytes are `bytes`; `file` names it in errors.
    init(bytes: UnsafeRawBufferPointer, file: String) throws {
        guard bytes.count >= 8 else { throw CheckpointError.fileTooShort(file: file, size: bytes.count) }
        let n = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard n <= UInt64(bytes.count - 8) else {
            throw CheckpointError.headerPastEnd(file: file, headerLength: n, fileSize: bytes.count)
        }
        guard n <= UInt64(Self.maxHeaderLength) else {
            throw CheckpointError.headerTooLarge(file: file, headerLength: n, limit: Self.maxHeaderLength)
        }
        dataStart = 8 + Int(n)
        let json = Data(bytes[8..<dataStart])
        let root: [String: JSONValue]
        switch JSONValue.parse(json) {
        case .failure(let f): throw CheckpointError.invalidHeader(file: file, reason: f.reason)
        case .success(.object(let o)): root = o
        case .success(let other): throw CheckpointError.invalidHeader(file: file, reason: "expected a JSON object, found \(other.kind)")
        }
        metadata = try Self.metadata(root["__metadata__"], file: file)
        let dataSize = bytes.count - dataStart
        var entries: [String: TensorInfo] = [:]
        for (name, value) in root where name != "__metadata__" {
            entries[name] = try Self.entry(name, value, dataSize: dataSize, file: file)
        }
        try Self.checkOverlaps(entries, file: file)
        self.entries = entries
    }

    private static func metadata(_ value: JSONValue?, file: String) throws -> [String: String] {
        guard let value, value != .null else { return [:] }
        guard case let .object(o) = value else {
            throw CheckpointError.invalidMetadata(file: file, reason: "expected an object, found \(value.kind)")
        }
        var out: [String: String] = [:]
        for (k, v) in o {
            guard case let .string(s) = v else {
                throw CheckpointError.invalidMetadata(file: file, reason: "value of '\(k)' is \(v.kind), not a string")
            }
            out[k] = s
        }
        return out
    }

    /// Checks one `"name": {dtype, shape, data_offsets}` entry.
    private static func entry(_ name: String, _ value: JSONValue, dataSize: Int, file: String) throws -> TensorInfo {
        func bad(_ reason: String) -> CheckpointError { .invalidEntry(file: file, tensor: name, reason: reason) }
        guard case let .object(o) = value else { throw bad("entry is \(value.kind), not an object") }
        guard let d = o["dtype"] else { throw bad("missing 'dtype'") }
        guard case let .string(dtypeName) = d else { throw bad("'dtype' is \(d.kind), not a string") }
        guard let s = o["shape"] else { throw bad("missing 'shape'") }
        guard let shape = s.intArray else { throw bad("'shape' is not an array of integers") }
        guard let r = o["data_offsets"] else { throw bad("missing 'data_offsets'") }
        guard let offsets = r.intArray, offsets.count == 2 else { throw bad("'data_offsets' is not an array of two integers") }
        guard let dtype = DType(rawValue: dtypeName), !dtype.isQuantized else {
            throw CheckpointError.unsupportedDType(file: file, tensor: name, dtype: dtypeName)
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw CheckpointError.negativeDimension(file: file, tensor: name, shape: shape)
        }
        let (start, end) = (offsets[0], offsets[1])
        guard start >= 0, end >= start else {
            throw CheckpointError.invalidByteRange(file: file, tensor: name, start: start, end: end)
        }
        let expected = byteCount(shape: shape, dtype: dtype)
        guard expected == end - start else {
            throw CheckpointError.byteCountMismatch(file: file, tensor: name, shape: shape, dtype: dtype,
                                                    expectedBytes: expected, start: start, end: end)
        }
        guard end <= dataSize else {
            throw CheckpointError.rangePastEnd(file: file, tensor: name, end: end, dataSize: dataSize)
        }
        return TensorInfo(dtype: dtype, shape: shape, byteRange: start..<end)
    }

    /// shape × element size, or nil on overflow (a hostile header must not trap).
    static func byteCount(shape: [Int], dtype: DType) -> Int? {
        var total = dtype.size
        for dim in shape {
            let (p, overflow) = total.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            total = p
        }
        return total
    }

    /// Two non-empty ranges may not share a byte. Gaps are tolerated.
    private static func checkOverlaps(_ entries: [String: TensorInfo], file: String) throws {
        let sorted = entries.filter { !$0.value.byteRange.isEmpty }
            .sorted { ($0.value.byteRange.lowerBound, $0.key) < ($1.value.byteRange.lowerBound, $1.key) }
        guard var previous = sorted.first else { return }
        for current in sorted.dropFirst() {
            if current.value.byteRange.lowerBound < previous.value.byteRange.upperBound {
                throw CheckpointError.overlappingRanges(
                    file: file, first: previous.key, firstRange: previous.value.byteRange,
                    second: current.key, secondRange: current.value.byteRange)
            }
            if current.value.byteRange.upperBound > previous.value.byteRange.upperBound { previous = current }
        }
    }
}
