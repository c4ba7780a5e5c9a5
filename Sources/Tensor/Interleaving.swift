import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Q4_0 and Q4_K weights in the layouts the AVX2 decode kernels read fastest: eight rows
// interleaved block by block (`DType.q4_0x8` / `.q4_Kx8`, LK_Q4_0X8 / LK_Q4_KX8 in CKernels.h).
// Widened, they are the plain type's values bit for bit, so prefill and the vision of a model do
// not change; decode sums each block whole before scaling it (CKernels' quantized_matvec_x8.h),
// to the same accuracy as the plain type's kernel.

/// The C regroupings of one interleaved layout: plain rows in, plain rows out, widened.
private struct Interleaving {
    typealias Regroup = (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int, Int) -> Void
    let layout: DType
    let interleave: Regroup, deinterleave: Regroup
    let dequantize: (UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int, Int) -> Void

    /// The interleaving of plain type `dtype` or of layout `dtype`, if it has one.
    init?(_ dtype: DType) {
        switch dtype {
        case .q4_0, .q4_0x8:
            (layout, interleave, deinterleave, dequantize) = (.q4_0x8, lk_interleave_q4_0x8, lk_deinterleave_q4_0x8, lk_dequantize_q4_0x8)
        case .q4_K, .q4_Kx8:
            (layout, interleave, deinterleave, dequantize) = (.q4_Kx8, lk_interleave_q4_kx8, lk_deinterleave_q4_kx8, lk_dequantize_q4_kx8)
        case .q8_0, .q8_0x8:
            (layout, interleave, deinterleave, dequantize) = (.q8_0x8, lk_interleave_q8_0x8, lk_deinterleave_q8_0x8, lk_dequantize_q8_0x8)
        default:
            return nil
        }
    }
}

extension Tensor {
    /// This Q4_0 or Q4_K matrix with its rows interleaved in eights, when the decode kernels run
    /// faster on that at this CPU's instruction-set level (any x86 level with AVX2) or `force`
    /// is set; otherwise (another type, rows not a multiple of 8) the tensor itself.
    ///
    /// The interleaved copy is owned memory the size of the original (Q4_K's: +2.8%, its scales
    /// decoded to bytes). A memory-mapped original gives its pages back as it is copied (they
    /// stay in the page cache), so loading a model this way never holds both copies resident.
    ///
    ///     let w = Tensor(randoms(64 * 512), shape: [64, 512]).converted(to: .q4_K)
    ///     w.interleavedForDecode(force: true).dtype   // .q4_Kx8
    public func interleavedForDecode(force: Bool = false) -> Tensor {
        guard let il = Interleaving(dtype), il.layout != dtype, rank == 2, shape[0] % 8 == 0,
              shape[1] % dtype.blockSize == 0, force || lk_prefers_q4_0x8() != 0 else { return self }
        let out = Tensor(zeros: shape, dtype: il.layout)
        // About 4 MB at a time, so a mapped source is given back as it is read.
        let rows = shape[0], k = shape[1]
        let rowBytes = dtype.byteCount(elements: k), outRowBytes = il.layout.byteCount(elements: k)
        let step = max(1, (4 << 20) / (8 * rowBytes)) * 8
        for r in stride(from: 0, to: rows, by: step) {
            let n = min(step, rows - r)
            il.interleave(rawPointer + r * rowBytes, out.rawPointer + r * outRowBytes, n, k)
            if storage.isFileMapping { dropMappedPages(rawPointer + r * rowBytes, count: n * rowBytes) }
        }
        return out
    }

    /// Gives this tensor's pages back when it views a read-only file mapping (they leave the
    /// resident set and come back from the page cache if read again); otherwise does nothing.
    /// For a source just copied into a tensor of its own.
    public func releaseMappedPages() {
        if storage.isFileMapping { dropMappedPages(rawPointer, count: byteCount) }
    }

    /// An interleaved tensor put back in row order as its plain type (what files hold); any
    /// other tensor itself.
    public func inRowOrder() -> Tensor {
        guard dtype.interleavedRows > 1, let il = Interleaving(dtype) else { return self }
        let out = Tensor(zeros: shape, dtype: dtype.rowOrderType)
        il.deinterleave(rawPointer, out.rawPointer, rowCount, rowLength)
        return out
    }

    /// All values widened to f32 at `dst` (`count` floats).
    func widen(into dst: UnsafeMutablePointer<Float>) {
        widenRows(rawPointer, dtype: dtype, rows: rowCount, rowLength: rowLength, into: dst)
    }
}

/// `rows` rows of `rowLength` values of `dtype` at `src` widened to f32 at `dst`; interleaved
/// layouts take whole groups of 8 rows.
func widenRows(_ src: UnsafeRawPointer, dtype: DType, rows: Int, rowLength k: Int, into dst: UnsafeMutablePointer<Float>) {
    if dtype.interleavedRows > 1, let il = Interleaving(dtype) {
        il.dequantize(src, dst, rows, k)
    } else {
        convertToFloat(src, dtype: dtype, count: rows * k, into: dst)
    }
}

/// Drops this process's mapping of the whole pages inside [p, p + count) of a read-only file
/// mapping: they leave the resident set and come back from the page cache if read again.
private func dropMappedPages(_ p: UnsafeMutableRawPointer, count: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: p) + page - 1) / page * page
    let end = (Int(bitPattern: p) + count) / page * page
    guard end > start else { return }
    _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
}
