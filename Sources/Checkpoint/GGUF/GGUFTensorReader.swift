import Foundation
import Tensor

/// Takes tensors from a GGUF file for a model, checking shapes and recording what was taken.
public final class GGUFTensorReader {
    public let file: GGUFFile
    /// Quantised weights expand to f32 while the whole file would stay under this many f32
    /// bytes, else to f16 (a 7B model at f32 would not fit in memory).
    public let expandDType: DType
    public private(set) var taken = Set<String>()

    public init(file: GGUFFile, f32Limit: Int = 4 << 30) {
        self.file = file
        let elements = file.tensorInfos.reduce(0) { $0 + $1.elementCount }
        expandDType = elements * 4 <= f32Limit ? .f32 : .f16
    }

    public func info(_ name: String, _ shape: [Int]) throws -> GGUFTensorInfo {
        guard let info = file.info(name) else { throw GGUFError.missing(file: file.url.path, what: "tensor '\(name)'") }
        guard info.shape == shape else {
            throw GGUFError.shapeMismatch(file: file.url.path, tensor: name, expected: shape, found: info.shape)
        }
        taken.insert(name)
        return info
    }

    /// Names of the file's tensors not taken yet.
    public var untaken: [String] { file.tensorNames.filter { !taken.contains($0) } }

    /// A norm weight or bias, as f32.
    public func vector(_ name: String, _ n: Int) throws -> Tensor {
        _ = try info(name, [n])
        return try file.dequantized(name)
    }

    /// A weight matrix [N, K]: a view where the kernels read the type as it is (F32, F16, BF16,
    /// Q8_0, Q4_0, Q4_K, Q6_K), else expanded; the rows of each head reordered from llama.cpp's interleaved
    /// pairs to HF's halves when asked (block rows move whole, so any type can be reordered).
    public func matrix(_ name: String, _ shape: [Int], interleavedHeads heads: Int? = nil) throws -> Tensor {
        let info = try info(name, shape)
        // Types the kernels read as they are: floats, and the blocks of the quantised kernels.
        let direct: DType? = [.f32: DType.f32, .f16: .f16, .bf16: .bf16, .q8_0: .q8_0, .q4_0: .q4_0, .q4_K: .q4_K, .q6_K: .q6_K][info.type]
        let rowLength = shape.last ?? 1
        if let dtype = direct, rowLength % dtype.blockSize == 0 {
            let view = Tensor(dtype: dtype, shape: shape, storage: file.storage, offset: info.byteRange.lowerBound)
            return heads.map { deinterleaveHeads(view, heads: $0) } ?? view
        }
        let expanded = try file.dequantized(name, to: expandDType)
        return heads.map { deinterleaveHeads(expanded, heads: $0) } ?? expanded
    }
}

/// llama.cpp stores each head's rotary rows as pairs (0, E/2), (1, E/2+1), …; HF as two halves.
/// Row h·E + 2i + j of the file is row h·E + j·E/2 + i of the model.
public func deinterleaveHeads(_ w: Tensor, heads: Int) -> Tensor { reorderHeadRows(w, heads: heads, toInterleaved: false) }

/// The inverse of `deinterleaveHeads`: HF's two halves of each head's rows to llama.cpp's pairs.
public func interleaveHeads(_ w: Tensor, heads: Int) -> Tensor { reorderHeadRows(w, heads: heads, toInterleaved: true) }

/// Moves whole rows (any dtype, block rows included) between the two rotary layouts.
private func reorderHeadRows(_ w: Tensor, heads: Int, toInterleaved: Bool) -> Tensor {
    let n = w.shape[0], k = w.shape[1], e = n / heads, half = e / 2
    let out = Tensor(zeros: w.shape, dtype: w.dtype)
    let rowBytes = w.dtype.byteCount(elements: k)
    for h in 0..<heads {
        for i in 0..<half {
            for j in 0..<2 {
                let paired = h * e + 2 * i + j, halves = h * e + j * half + i
                let (from, to) = toInterleaved ? (halves, paired) : (paired, halves)
                (out.rawPointer + to * rowBytes).copyMemory(from: w.rawPointer + from * rowBytes, byteCount: rowBytes)
            }
        }
    }
    w.releaseMappedPages()
    return out
}
