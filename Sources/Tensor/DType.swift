/// Element types a tensor's bytes can hold.
///
/// Compute is always `f32`; `f16` and `bf16` weights are read where they lie
/// (memory-mapped) and widened on the fly by the kernels. `q8_0` and `q4_0` are ggml's
/// blocks of 32 values with one f16 scale each (34 and 18 bytes), `q4_K` and `q6_K` its
/// superblocks of 256 (144 and 210 bytes); the decode kernels use them as they are,
/// everything else expands them block by block. `q4_0x8`, `q4_Kx8` and `q8_0x8` are Q4_0, Q4_K and Q8_0 with
/// eight weight rows interleaved, the layouts the AVX2 decode kernels read fastest
/// (`Tensor.interleavedForDecode`); they live only in memory, never in a file.
public enum DType: String, Sendable, CaseIterable, Codable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case u8 = "U8"
    case q8_0 = "Q8_0"
    case q4_0 = "Q4_0"
    case q4_K = "Q4_K"
    case q6_K = "Q6_K"
    case q4_0x8 = "Q4_0x8"
    case q4_Kx8 = "Q4_Kx8"
    case q8_0x8 = "Q8_0x8"

    /// Bytes per element (unquantised types only; quantised types use `byteCount(elements:)`).
    public var size: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .i64: return 8
        case .u8: return 1
        case .q8_0, .q4_0, .q4_K, .q6_K, .q4_0x8, .q4_Kx8, .q8_0x8: preconditionFailure("\(self) has no per-element size; use byteCount(elements:)")
        }
    }

    /// Values per block: 32 for Q8_0/Q4_0, 256 for the K-quants, 1 otherwise.
    public var blockSize: Int {
        switch self {
        case .q8_0, .q4_0, .q4_0x8, .q8_0x8: return 32
        case .q4_K, .q6_K, .q4_Kx8: return 256
        default: return 1
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Weight rows that come together in this layout: 8 for the interleaved decode layouts
    /// (rows are sliced, split between threads and widened in whole groups), 1 otherwise.
    public var interleavedRows: Int { self == .q4_0x8 || self == .q4_Kx8 || self == .q8_0x8 ? 8 : 1 }

    /// The file type whose rows an interleaved layout holds (`q4_0x8` → `q4_0`); any other type itself.
    public var rowOrderType: DType {
        switch self {
        case .q4_0x8: return .q4_0
        case .q4_Kx8: return .q4_K
        case .q8_0x8: return .q8_0
        default: return self
        }
    }

    /// Bytes that `elements` values take (a whole number of blocks for quantised types).
    public func byteCount(elements: Int) -> Int {
        switch self {
        case .q8_0, .q8_0x8: return elements / 32 * 34
        case .q4_0, .q4_0x8: return elements / 32 * 18
        case .q4_K: return elements / 256 * 144
        case .q6_K: return elements / 256 * 210
        case .q4_Kx8: return elements / 256 * 148   // decoded scales: 1184 bytes per 8 superblocks
        default: return elements * size
        }
    }

    /// Whether the kernels can use this type as a floating-point weight.
    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }

    /// Whether the linear kernels take this type as a weight (floats and the quantised blocks).
    public var isWeight: Bool { isFloat || isQuantized }

    /// The types a safetensors file may declare.
    public static var safetensorsTypes: [DType] { allCases.filter { !$0.isQuantized } }
}
