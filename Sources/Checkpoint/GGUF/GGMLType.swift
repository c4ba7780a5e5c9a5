/// The element types a GGUF tensor may have (`ggml_type`), with their block layout.
///
/// Quantised types store blocks of `blockSize` values in `bytesPerBlock` bytes; a row's
/// length must be a whole number of blocks. Raw values are the numbers written in the file.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8
    case q4_K = 12, q5_K = 13, q6_K = 14
    case bf16 = 30

    /// Values per block (1 for the float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return 32
        case .q4_K, .q5_K, .q6_K: return 256
        }
    }

    /// Bytes per block.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18        // f16 scale + 32 nibbles
        case .q4_1: return 20        // f16 scale, f16 min + 32 nibbles
        case .q5_0: return 22        // f16 scale + 32 high bits + 32 nibbles
        case .q5_1: return 24
        case .q8_0: return 34        // f16 scale + 32 int8
        case .q4_K: return 144       // f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 nibbles
        case .q5_K: return 176       // as Q4_K + 32 bytes of high bits
        case .q6_K: return 210       // 128 low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, f16 d
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// The name llama.cpp prints (`Q4_K`, `F16`, …).
    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        }
    }

    /// Bytes that `count` values take, or nil when `count` is not a whole number of blocks
    /// or the size overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }
}
