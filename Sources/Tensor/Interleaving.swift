import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Q4_0 weights in the layout the AVX2 decode kernel reads fastest: eight rows interleaved block
// by block (`DType.q4_0x8`, LK_Q4_0X8 in CKernels.h). Widened, they are the Q4_0 values bit for
// bit, so prefill and the vision of a model do not change; decode sums each block whole before
// scaling it (CKernels' quantized_matvec_x8.h), to the same accuracy as Q4_0's kernel.

extension Tensor {
    /// This Q4_0 matrix with its rows interleaved in eights, when the decode kernels run faster
    /// on that at this CPU's instruction-set level (AVX2 without AVX-512 VNNI) or `force` is
    /// set; otherwise (another type, rows not a multiple of 8) the tensor itself.
    ///
    /// The interleaved copy is owned memory the size of the original. A memory-mapped original
    /// gives its pages back as it is copied (they stay in the page cache), so loading a model
    /// this way never holds both copies resident.
    public func interleavedForDecode(force: Bool = false) -> Tensor {
        guard dtype == .q4_0, rank == 2, shape[0] % 8 == 0, shape[1] % 32 == 0,
              force || lk_prefers_q4_0x8() != 0 else { return self }
        let out = Tensor(zeros: shape, dtype: .q4_0x8)
        // About 4 MB at a time, so a mapped source is given back as it is read.
        let rows = shape[0], k = shape[1], rowBytes = DType.q4_0.byteCount(elements: k)
        let step = max(1, (4 << 20) / (8 * rowBytes)) * 8
        for r in stride(from: 0, to: rows, by: step) {
            let n = min(step, rows - r)
            lk_interleave_q4_0x8(rawPointer + r * rowBytes, out.rawPointer + r * rowBytes, n, k)
            if storage.isFileMapping { releaseMappedPages(rawPointer + r * rowBytes, count: n * rowBytes) }
        }
        return out
    }

    /// A Q4_0x8 tensor put back in row order as plain Q4_0 (what files hold); any other tensor itself.
    public func inRowOrder() -> Tensor {
        guard dtype == .q4_0x8 else { return self }
        let out = Tensor(zeros: shape, dtype: .q4_0)
        lk_deinterleave_q4_0x8(rawPointer, out.rawPointer, rowCount, rowLength)
        return out
    }

    /// All values widened to f32 at `dst` (`count` floats).
    func widen(into dst: UnsafeMutablePointer<Float>) {
        if dtype == .q4_0x8 {
            lk_dequantize_q4_0x8(rawPointer, dst, rowCount, rowLength)
        } else {
            convertToFloat(rawPointer, dtype: dtype, count: count, into: dst)
        }
    }
}

/// Drops this process's mapping of the whole pages inside [p, p + count) of a read-only file
/// mapping: they leave the resident set and come back from the page cache if read again.
private func releaseMappedPages(_ p: UnsafeMutableRawPointer, count: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: p) + page - 1) / page * page
    let end = (Int(bitPattern: p) + count) / page * page
    guard end > start else { return }
    _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
}
