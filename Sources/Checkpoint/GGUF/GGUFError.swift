/// What can be wrong with a GGUF file; every case names the file and, where one is involved,
/// the metadata key or tensor, with the numbers that disagree.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
    /// Not a GGUF file (the first four bytes are not "GGUF").
    case notGGUF(file: String)
    /// A version this reader does not read (it reads 2 and 3; 1 predates 64-bit counts).
    case unsupportedVersion(file: String, version: UInt32)
    /// The file ends inside the header, at byte `offset`, while reading `what`.
    case truncated(file: String, what: String, offset: Int)
    /// A count or length that cannot be right: more items than bytes left, a dimension over
    /// the limit, more dimensions than ggml has.
    case implausible(file: String, what: String, value: UInt64)
    /// A metadata value type the format does not define.
    case unknownValueType(file: String, key: String, type: UInt32)
    /// A metadata value of the wrong type or range for its key.
    case invalidMetadata(file: String, key: String, reason: String)
    /// A tensor type this reader does not know.
    case unsupportedTensorType(file: String, tensor: String, type: UInt32)
    /// A tensor whose shape does not fit its type's blocks, or whose byte size overflows.
    case invalidShape(file: String, tensor: String, shape: [Int], type: GGMLType)
    /// A tensor's data offset is not a multiple of the alignment, or its bytes run past the end.
    case invalidOffset(file: String, tensor: String, offset: UInt64, bytes: Int, dataSize: Int)
    /// Two tensors share bytes.
    case overlappingTensors(file: String, first: String, second: String)
    /// The same tensor name twice.
    case duplicateTensor(file: String, tensor: String)
    /// A tensor a loader takes has another shape than the model needs.
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    /// A metadata key or tensor a loader needs is absent.
    case missing(file: String, what: String)

    public var description: String {
        switch self {
        case let .notGGUF(file): return "\(file): not a GGUF file (no 'GGUF' magic)"
        case let .unsupportedVersion(file, v): return "\(file): GGUF version \(v) is not supported (2, 3)"
        case let .truncated(file, what, offset): return "\(file): file ends at byte \(offset) while reading \(what) (truncated?)"
        case let .implausible(file, what, value): return "\(file): \(what) is \(value), which cannot be right for this file"
        case let .unknownValueType(file, key, type): return "\(file): metadata '\(key)' has unknown value type \(type)"
        case let .invalidMetadata(file, key, reason): return "\(file): metadata '\(key)': \(reason)"
        case let .unsupportedTensorType(file, tensor, type):
            let known = GGMLType.allCases.map { "\($0)" }.joined(separator: ", ")
            return "\(file): tensor '\(tensor)' has ggml type \(type), which is not supported (\(known))"
        case let .invalidShape(file, tensor, shape, type):
            return "\(file): tensor '\(tensor)' of shape \(shape) does not fit \(type) blocks of \(type.blockSize)"
        case let .invalidOffset(file, tensor, offset, bytes, size):
            return "\(file): tensor '\(tensor)' at data offset \(offset) (\(bytes) bytes) is misaligned or runs past the \(size)-byte data section"
        case let .overlappingTensors(file, a, b): return "\(file): tensors '\(a)' and '\(b)' overlap"
        case let .duplicateTensor(file, t): return "\(file): tensor '\(t)' appears twice"
        case let .shapeMismatch(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)' has shape \(found) but \(expected) was expected"
        case let .missing(file, what): return "\(file): no \(what)"
        }
    }
}
