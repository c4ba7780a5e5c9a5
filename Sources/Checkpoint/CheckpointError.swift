import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can go wrong reading or writing a checkpoint.
///
/// Every case names the file (its path as given) and, where one is involved, the
/// tensor, and carries the numbers that disagree, so a message such as
///
///     model.safetensors: tensor 'x' has shape [2, 3] (F32, 24 bytes) but byte range 0..<20 (20 bytes)
///
/// is enough to find the problem without a debugger.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    // MARK: - File system
    /// A system call failed; `errno` is the C error number.
    case io(file: String, operation: String, errno: Int32)
    /// `WeightStore(directory:)` found no index, no `model.safetensors` and no `*.safetensors`.
    case noWeightFiles(directory: String)

    // MARK: - Safetensors framing
    /// Fewer than the 8 bytes that hold the header length.
    case fileTooShort(file: String, size: Int)
    /// The declared header length runs past the end of the file.
    case headerPastEnd(file: String, headerLength: UInt64, fileSize: Int)
    /// The declared header length exceeds the 100 MB the reference implementation allows.
    case headerTooLarge(file: String, headerLength: UInt64, limit: Int)
    /// The header is not UTF-8, not JSON, or not a JSON object.
    case invalidHeader(file: String, reason: String)
    /// `__metadata__` is not an object of string values.
    case invalidMetadata(file: String, reason: String)

    // MARK: - Safetensors entries
    /// A tensor entry lacks `dtype`/`shape`/`data_offsets` or has them of the wrong type.
    case invalidEntry(file: String, tensor: String, reason: String)
    /// A dtype this toolkit does not read (F64, I8, BOOL, F8_E4M3, ...).
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// A shape with a negative dimension.
    case negativeDimension(file: String, tensor: String, shape: [Int])
    /// shape × element size differs from the length of the byte range.
    /// `expectedBytes` is `nil` when the product overflows.
    case byteCountMismatch(file: String, tensor: String, shape: [Int], dtype: DType,
                           expectedBytes: Int?, start: Int, end: Int)
    /// `data_offsets` with end before start, or negative.
    case invalidByteRange(file: String, tensor: String, start: Int, end: Int)
    /// A byte range that ends past the data section (a truncated file).
    case rangePastEnd(file: String, tensor: String, end: Int, dataSize: Int)
    /// Two tensors whose byte ranges share bytes.
    case overlappingRanges(file: String, first: String, firstRange: Range<Int>,
                           second: String, secondRange: Range<Int>)

    // MARK: - Sharded checkpoints and stores
    /// `model.safetensors.index.json` is not JSON or lacks a string→string `weight_map`.
    case invalidIndex(file: String, reason: String)
    /// The index points a tensor at a shard file that does not exist.
    case missingShard(index: String, shard: String, tensor: String)
    /// The index points a tensor at a shard that does not hold it.
    case tensorNotInShard(index: String, shard: String, tensor: String)
    /// The same tensor name in two files of one store.
    case duplicateTensor(tensor: String, firstFile: String, secondFile: String)
    /// A tensor asked for by name that the store does not hold.
    case missingTensor(tensor: String, location: String)

    // MARK: - Strict loading and writing
    /// A loader asked for a shape the checkpoint does not have.
    case shapeMismatch(tensor: String, expected: [Int], found: [Int], location: String)
    /// Tensors in the checkpoint that no loader took and no rule skipped.
    case unusedTensors(names: [String], location: String)
    /// The writer was given an empty or repeated tensor name.
    case invalidTensorName(file: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .io(file, operation, code):
            return "\(file): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .noWeightFiles(directory):
            return "\(directory): no model.safetensors.index.json, model.safetensors or *.safetensors"
        case let .fileTooShort(file, size):
            return "\(file): \(size) bytes is too short for the 8-byte header length"
        case let .headerPastEnd(file, length, size):
            return "\(file): header length \(length) runs past the end of the \(size)-byte file"
        case let .headerTooLarge(file, length, limit):
            return "\(file): header length \(length) exceeds the \(limit)-byte limit"
        case let .invalidHeader(file, reason):
            return "\(file): invalid header: \(reason)"
        case let .invalidMetadata(file, reason):
            return "\(file): invalid __metadata__: \(reason)"
        default:
            return tensorDescription
        }
    }

    private var tensorDescription: String {
        switch self {
        case let .invalidEntry(file, tensor, reason):
            return "\(file): tensor '\(tensor)': \(reason)"
        case let .unsupportedDType(file, tensor, dtype):
            let known = DType.safetensorsTypes.map(\.rawValue).joined(separator: ", ")
            return "\(file): tensor '\(tensor)' has unsupported dtype \(dtype) (supported: \(known))"
        case let .negativeDimension(file, tensor, shape):
            return "\(file): tensor '\(tensor)' has a negative dimension in shape \(shape)"
        case let .byteCountMismatch(file, tensor, shape, dtype, expected, start, end):
            let want = expected.map { "\($0) bytes" } ?? "overflowing byte count"
            return "\(file): tensor '\(tensor)' has shape \(shape) (\(dtype.rawValue), \(want)) "
                + "but byte range \(start)..<\(end) (\(end - start) bytes)"
        case let .invalidByteRange(file, tensor, start, end):
            return "\(file): tensor '\(tensor)' has invalid data_offsets [\(start), \(end)]"
        case let .rangePastEnd(file, tensor, end, dataSize):
            return "\(file): tensor '\(tensor)' ends at byte \(end) of the data section, "
                + "which holds only \(dataSize) bytes (truncated file?)"
        case let .overlappingRanges(file, first, r1, second, r2):
            return "\(file): tensors '\(first)' (\(r1)) and '\(second)' (\(r2)) overlap"
        default:
            return storeDescription
        }
    }

    private var storeDescription: String {
        switch self {
        case let .invalidIndex(file, reason):
            return "\(file): invalid index: \(reason)"
        case let .missingShard(index, shard, tensor):
            return "\(index): shard '\(shard)' (listed for tensor '\(tensor)') does not exist"
        case let .tensorNotInShard(index, shard, tensor):
            return "\(index): tensor '\(tensor)' is listed in shard '\(shard)' but that file does not hold it"
        case let .duplicateTensor(tensor, first, second):
            return "tensor '\(tensor)' appears in both \(first) and \(second)"
        case let .missingTensor(tensor, location):
            return "\(location): no tensor '\(tensor)'"
        case let .shapeMismatch(tensor, expected, found, location):
            return "\(location): tensor '\(tensor)' has shape \(found) but \(expected) was expected"
        case let .unusedTensors(names, location):
            let shown = names.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            let more = names.count > 10 ? " and \(names.count - 10) more" : ""
            return "\(location): \(names.count) unused tensor(s): \(shown)\(more)"
        case let .invalidTensorName(file, tensor, reason):
            return "\(file): cannot write tensor '\(tensor)': \(reason)"
        default:
            return "checkpoint error"  // unreachable: the switches above cover every case
        }
    }
}
