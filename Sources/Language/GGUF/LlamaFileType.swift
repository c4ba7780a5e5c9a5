import Checkpoint
import Tensor

/// The tensor types of a LLaMA GGUF file, as llama.cpp's `llama_ftype` names them: one type for
/// every matrix, or ggml's Q4_K_M mix.
///
///     let kind = LlamaFileType.q4KM
///     kind.type(of: "blk.0.ffn_down.weight", layerCount: 32)   // .q6_K
public enum LlamaFileType: Sendable, Equatable {
    case uniform(GGMLType)
    /// Q4_K, with Q6_K for `output` and for `attn_v` and `ffn_down` in the layers
    /// `usesMoreBits` picks (llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_K_M).
    case q4KM

    /// The type of the matrix called `name` (`token_embd.weight`, `blk.N.attn_v.weight`, …).
    public func type(of name: String, layerCount: Int) -> GGMLType {
        switch self {
        case .uniform(let t): return t
        case .q4KM:
            if name == "output.weight" { return .q6_K }
            let parts = name.split(separator: ".")
            guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]) else { return .q4_K }
            let wide = parts[2] == "attn_v" || parts[2] == "ffn_down"
            return wide && Self.usesMoreBits(layer: layer, of: layerCount) ? .q6_K : .q4_K
        }
    }

    /// The first and last eighth of the layers, and every third one between.
    public static func usesMoreBits(layer i: Int, of n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    /// llama.cpp's `general.file_type` number (LLAMA_FTYPE_*).
    public var number: Int {
        switch self {
        case .q4KM: return 15
        case .uniform(let t):
            switch t {
            case .f32: return 0
            case .f16: return 1
            case .q4_0: return 2
            case .q8_0: return 7
            case .bf16: return 32
            default: return 1
            }
        }
    }
}
