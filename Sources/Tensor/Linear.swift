import CBLAS
import CKernels

// Shape legend: T tokens (rows of activations), K input features, N output features.
// Weights are PyTorch `nn.Linear` layout: [N, K], row n holds output n's input weights.

/// y[T, N] = x[T, K] · Wᵀ (+ bias[N]).
///
/// One row (decode) runs the multithreaded SIMD mat-vec that reads f32, f16, bf16 or
/// quantised (Q8_0, Q4_0, Q4_K, Q6_K) weights where they lie, and a few rows on a
/// half-precision weight the several-row kernel that does the same. Rows on an interleaved
/// Q4_0x8 / Q4_Kx8 weight (x86 with AVX2) always take the integer path: each activation row
/// quantised to Q8_0, then tiles of 8 weight rows × 4 activation rows (`integerGEMMReads`), so
/// a prompt row computes bit for bit what decode computes for it. Many rows on other weights
/// go through OpenBLAS SGEMM: a half-precision weight is widened, a quantised one dequantised,
/// a block of rows at a time into `scratch`, so the whole matrix is never copied to f32 and
/// such a prompt computes exactly what the dequantised model computes.
public func linearForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                          weight: Tensor, bias: Tensor? = nil, rows t: Int,
                          scratch: ScratchBuffer) {
    linearForward(y, x, weight: weight, bias: bias, segments: [0..<t], scratch: scratch)
}

/// Segments shorter than this many rows run the several-row kernel on f16/bf16 weights. It reads
/// the weight where it lies at about 60 GFLOP/s per thread whatever the rows; widening blocks
/// of the weight for SGEMM costs more than that below about 64 rows and less above (measured
/// on the 7B shape: 42 rows 75 against 125 GFLOP/s with 2 threads, 128 rows 182 against 125).
let severalRowKernelLimit = 64

/// Whether prompts on this weight run the integer GEMM on Q8_0-quantised activations instead
/// of widening the weight for SGEMM: the interleaved Q4 layouts at the levels with their own
/// bodies. Measured on the 7B 4096 × 4096 shape, 512 rows, 2 threads, Ice Lake Xeon (AVX-512
/// VNNI, OpenBLAS's SkylakeX kernels, scripts/bench_prefill_gemm.c): the integer tiles take
/// about half the widen-then-SGEMM time (Q4_0x8 150-200 ms against 290-500, Q4_Kx8 46-90
/// against 110-160); 7B pp512 Q4_0 10.4 -> 15.1 tok/s (docs/decode-layouts.md). Q8_0 and Q6_K
/// still widen: their several-row kernel reads each weight block once per 8 activation rows
/// and ran ~40 and ~25 GOP/s, below SGEMM. So does Q8_0x8, whose interleaving serves decode.
func integerGEMMReads(_ dtype: DType) -> Bool {
    dtype.interleavedRows > 1 && dtype != .q8_0x8 && lk_prefers_q4_0x8() != 0
}

/// `linearForward` over rows that form independent segments (the prompts of several sequences
/// prefilled together): y[T, N] = x[T, K] · Wᵀ (+ bias) with T = the segments' total rows.
///
/// A segment's values depend only on its own rows, never on the others: one row, a short
/// segment on a half-precision weight, or any segment on an interleaved Q4 weight
/// (`integerGEMMReads`) goes through the several-row kernels (each value computed exactly as
/// the one-row mat-vec computes it); a longer segment gets the same SGEMM
/// calls, with the same shapes, as alone. What segments share is the weight traffic: adjacent
/// short segments run as one several-row call, and a weight widened for SGEMM is widened once.
///
///     linearForward(y, x, weight: w, segments: [0..<42, 42..<90], scratch: scratch)
public func linearForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                          weight: Tensor, bias: Tensor? = nil, segments: [Range<Int>],
                          scratch: ScratchBuffer) {
    precondition(weight.rank == 2, "linear weight must be 2-D, got \(weight.shape)")
    let n = weight.shape[0], k = weight.shape[1]
    let readsInPlace = weight.dtype == .f16 || weight.dtype == .bf16
    let integer = integerGEMMReads(weight.dtype)
    var many: [Range<Int>] = []
    var run: Range<Int>?     // adjacent rows for the several-row kernel
    func flush() {
        guard let rows = run else { return }
        if rows.count == 1 {
            matvec(y + rows.lowerBound * n, x + rows.lowerBound * k, weight: weight)
            if let bias { addBias(y + rows.lowerBound * n, bias: bias, rows: 1, columns: n) }
        } else if integer {
            quantizedMatvecRows(y + rows.lowerBound * n, x + rows.lowerBound * k, weight: weight, rows: rows.count,
                                scratch: scratch)
            if let bias { addBias(y + rows.lowerBound * n, bias: bias, rows: rows.count, columns: n) }
        } else {
            linearForwardBatchInvariant(y + rows.lowerBound * n, x + rows.lowerBound * k, weight: weight, bias: bias,
                                        rows: rows.count)
        }
        run = nil
    }
    for rows in segments where !rows.isEmpty {
        if rows.count == 1 || integer || (readsInPlace && rows.count < severalRowKernelLimit) {
            if let r = run, r.upperBound == rows.lowerBound { run = r.lowerBound..<rows.upperBound } else { flush(); run = rows }
        } else {
            many.append(rows)
        }
    }
    flush()
    guard !many.isEmpty else { return }
    func gemm(_ rows: Range<Int>, _ w: UnsafePointer<Float>, _ n0: Int, _ nb: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows.count), Int32(nb), Int32(k),
                    1, x + rows.lowerBound * k, Int32(k), w, Int32(k), 0, y + rows.lowerBound * n + n0, Int32(n))
    }
    if weight.dtype == .f32 {
        for rows in many { gemm(rows, weight.floats, 0, n) }
    } else {
        forEachWidenedBlock(weight, scratch: scratch) { n0, nb, w in
            for rows in many { gemm(rows, w, n0, nb) }
        }
    }
    if let bias {
        for rows in many { addBias(y + rows.lowerBound * n, bias: bias, rows: rows.count, columns: n) }
    }
}

/// y[N] = W[N, K] · x[K], rows split across threads.
public func matvec(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, weight: Tensor) {
    let n = weight.shape[0], k = weight.shape[1]
    if weight.dtype.isQuantized {
        quantizedMatvecRows(y, x, weight: weight, rows: 1)
        return
    }
    let code = kernelCode(weight.dtype)
    let w = UnsafeRawPointer(weight.rawPointer)
    // ~16K multiply-adds per task keeps thread hand-off cheap relative to work.
    parallelFor(n, minChunk: max(1, 16_384 / max(1, k))) { r in
        lk_matvec(code, w, x, y, r.lowerBound, r.upperBound, k)
    }
}

/// y[M, N] = x[M, K] · Wᵀ (+ bias) for a few rows that belong to different sequences
/// (continuous batching's decode step).
///
/// Each row's values are bit-identical to `linearForward` on that row alone (the one-row
/// mat-vec), whatever M is: a sequence's tokens never depend on what runs beside it. The
/// weight is still read from memory once per call, which is what makes batched decode
/// cheaper than M separate mat-vecs.
public func linearForwardBatchInvariant(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                        weight: Tensor, bias: Tensor? = nil, rows m: Int) {
    precondition(weight.rank == 2, "linear weight must be 2-D, got \(weight.shape)")
    let n = weight.shape[0], k = weight.shape[1]
    if weight.dtype.isQuantized {
        quantizedMatvecRows(y, x, weight: weight, rows: m)
    } else {
        let code = kernelCode(weight.dtype)
        let w = UnsafeRawPointer(weight.rawPointer)
        parallelFor(n, minChunk: max(1, 16_384 / max(1, k * m))) { r in
            lk_matvec_rows(code, w, x, y, r.lowerBound, r.upperBound, k, m, n)
        }
    }
    if let bias { addBias(y, bias: bias, rows: m, columns: n) }
}

/// y[M, N] = x[M, K] · Wᵀ for quantised weights: each activation row quantised to Q8_0 on its
/// own (so a row never depends on the others), then integer block dot products. The quantised
/// rows live on the stack for decode-sized inputs, and in `scratch` when one is given (a
/// prompt's rows), so neither allocates.
func quantizedMatvecRows(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, weight: Tensor, rows m: Int,
                         scratch: ScratchBuffer? = nil) {
    let k = weight.shape[1]
    precondition(k % weight.dtype.blockSize == 0, "\(weight.dtype) weight rows must be whole blocks of \(weight.dtype.blockSize), got \(k)")
    let rowBytes = lk_qact_bytes(k)
    func run(_ xq: UnsafeMutableRawPointer) {
        // A prompt's rows are quantised in parallel; decode's one to a few inline.
        parallelFor(m, minChunk: 16) { rows in
            for j in rows { lk_quantize_activation(x + j * k, xq + j * rowBytes, k) }
        }
        quantizedMatvecRows(y, quantized: UnsafeRawPointer(xq), weight: weight, rows: m)
    }
    if let scratch {
        run(UnsafeMutableRawPointer(scratch.reserve((m * rowBytes + 3) / 4)))
    } else {
        withUnsafeTemporaryAllocation(byteCount: m * rowBytes, alignment: 64) { run($0.baseAddress!) }
    }
}

/// The products of `quantizedMatvecRows` on activation rows already quantised.
private func quantizedMatvecRows(_ y: UnsafeMutablePointer<Float>, quantized q: UnsafeRawPointer, weight: Tensor,
                                 rows m: Int) {
    let n = weight.shape[0], k = weight.shape[1]
    let code = kernelCode(weight.dtype), w = UnsafeRawPointer(weight.rawPointer)
    // Interleaved rows are split between threads in their groups of 8.
    let unit = weight.dtype.interleavedRows
    parallelFor(n / unit, minChunk: max(1, 32_768 / max(1, k * m * unit))) { g in
        let r = g.lowerBound * unit..<g.upperBound * unit
        if m == 1 {
            lk_matvec_q(code, w, q, y, r.lowerBound, r.upperBound, k)
        } else {
            lk_matvec_rows_q(code, w, q, y, r.lowerBound, r.upperBound, k, m, n)
        }
    }
}

/// Rows of widened weights per SGEMM call: large enough to keep BLAS efficient,
/// small enough that the f32 block stays a few MB.
private let wideningBlockBytes = 8 << 20

/// y[t, :] += bias for every row t.
public func addBias(_ y: UnsafeMutablePointer<Float>, bias: Tensor, rows t: Int, columns n: Int) {
    precondition(bias.count == n && bias.dtype == .f32, "bias must be \(n) f32 values, got \(bias.shape) \(bias.dtype)")
    let b = bias.floats
    for row in 0..<t {
        let yr = y + row * n
        for j in 0..<n { yr[j] += b[j] }
    }
}

func kernelCode(_ dtype: DType) -> Int32 {
    switch dtype {
    case .f32: return Int32(LK_F32)
    case .f16: return Int32(LK_F16)
    case .bf16: return Int32(LK_BF16)
    case .q8_0: return Int32(LK_Q8_0)
    case .q4_0: return Int32(LK_Q4_0)
    case .q4_K: return Int32(LK_Q4_K)
    case .q6_K: return Int32(LK_Q6_K)
    case .q4_0x8: return Int32(LK_Q4_0X8)
    case .q4_Kx8: return Int32(LK_Q4_KX8)
    case .q8_0x8: return Int32(LK_Q8_0X8)
    default: preconditionFailure("no mat-vec kernel for \(dtype) weights")
    }
}

// MARK: - Backward

/// Backward of `linearForward`, accumulating: dx[T, K] += dy · W, dW[N, K] += dyᵀ · x,
/// dBias[N] += Σ_t dy[t, :].
///
/// Any gradient may be nil and its work is skipped (a frozen weight costs no dW GEMM).
/// dx reads a half-precision weight widened a block of rows at a time into `scratch`, like the
/// forward; dW does not depend on the weight's values, so it is written for any weight dtype
/// (trainable weights are f32 in practice).
///
///     linearBackward(dx: dx, dWeight: dW, dBias: nil, dy: dy, x: x, weight: w, rows: t, scratch: scratch)
public func linearBackward(dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                           dBias: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                           x: UnsafePointer<Float>, weight: Tensor, rows t: Int, scratch: ScratchBuffer) {
    precondition(weight.rank == 2, "linear weight must be 2-D, got \(weight.shape)")
    guard t > 0 else { return }
    let n = weight.shape[0], k = weight.shape[1]
    if let dx {
        if weight.dtype == .f32 {
            // dx[T, K] += dy[T, N] · W[N, K]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(k), Int32(n),
                        1, dy, Int32(n), weight.floats, Int32(k), 1, dx, Int32(k))
        } else {
            // Σ over blocks of output rows: dx += dy[:, n0..<n0+nb] · W[n0..<n0+nb, :]
            forEachWidenedBlock(weight, scratch: scratch) { n0, nb, w in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(k), Int32(nb),
                            1, dy + n0, Int32(n), w, Int32(k), 1, dx, Int32(k))
            }
        }
    }
    if let dWeight {
        // dW[N, K] += dyᵀ[N, T] · x[T, K]
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(k), Int32(t),
                    1, dy, Int32(n), x, Int32(k), 1, dWeight, Int32(k))
    }
    if let dBias { accumulateColumnSums(dBias, dy, rows: t, columns: n) }
}

/// dst[j] += Σ_r src[r, j]; threads own disjoint column ranges, so no two write one sum.
func accumulateColumnSums(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>,
                          rows t: Int, columns n: Int) {
    parallelFor(n, minChunk: max(16, 16_384 / max(1, t))) { cols in
        for r in 0..<t {
            let row = src + r * n
            for j in cols { dst[j] += row[j] }
        }
    }
}

/// Calls `body(n0, nb, w)` for consecutive blocks of the weight's rows, `w` holding rows
/// n0..<n0+nb widened to f32 (block sized as in the forward).
private func forEachWidenedBlock(_ weight: Tensor, scratch: ScratchBuffer,
                                 _ body: (Int, Int, UnsafePointer<Float>) -> Void) {
    let n = weight.shape[0], k = weight.shape[1]
    // Interleaved rows are widened in their groups of 8.
    let unit = weight.dtype.interleavedRows
    let block = max(unit, min(n, wideningBlockBytes / (4 * max(1, k))) / unit * unit)
    let w = scratch.reserve(block * k)
    let src = weight.rawPointer, rowBytes = weight.dtype.byteCount(elements: k)
    var n0 = 0
    while n0 < n {
        let nb = min(block, n - n0)
        parallelFor(nb / unit, minChunk: max(1, 16 / unit)) { g in
            let r = g.lowerBound * unit..<g.upperBound * unit
            widenRows(src + (n0 + r.lowerBound) * rowBytes, dtype: weight.dtype, rows: r.count, rowLength: k,
                      into: w + r.lowerBound * k)
        }
        body(n0, nb, w)
        n0 += nb
    }
}

/// g[K, K] = xᵀ · x for x (T, K), the whole symmetric matrix (both triangles), by SGEMM.
public func gramMatrix(_ g: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows t: Int, columns k: Int) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(k), Int32(t),
                1, x, Int32(k), x, Int32(k), 0, g, Int32(k))
}
