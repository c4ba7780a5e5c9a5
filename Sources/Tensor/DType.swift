/// Element types a tensor's bytes can hold.
///
/// Compute is always `f32`; `f16` and `bf16` weights are read where they lie
/// (memory-mapped) and widened on the fly by the kernels.
public enum DType: String, Sendable, CaseIterable, Codable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case u8 = "U8"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .i64: return 8
        case .u8: return 1
        }
    }

    /// Whether the kernels can use this type as a floating-point weight.
    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}
