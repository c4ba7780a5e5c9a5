import CBLAS
import Foundation
import Tensor

// Shape legend: S sequences, T_s tokens of sequence s, R = Σ T_s rows of a packed batch, H heads.

/// A batch of sequences laid end to end as the rows of one matrix, so every Linear runs one
/// GEMM over all tokens of the batch (rows = R) while attention stays within each sequence.
/// No padding: each sequence keeps its own length.
struct PackedSequences {
    /// Tokens of each sequence.
    private(set) var lengths: [Int] = []
    /// First row of each sequence.
    private(set) var starts: [Int] = []
    /// Offset of each sequence's (H, T_s, T_s) attention probabilities.
    private(set) var probabilityOffsets: [Int] = []
    /// Seed of each sequence's LoRA dropout masks.
    private(set) var dropoutSeeds: [UInt64] = []
    private(set) var rows = 0
    private(set) var longest = 0
    /// Floats of all sequences' attention probabilities, Σ H·T_s².
    private(set) var probabilityCount = 0

    static let empty = PackedSequences()

    /// Lays out sequences of `lengths` (reusing the arrays' storage).
    mutating func set(lengths l: [Int], heads h: Int, dropoutSeeds seeds: [UInt64]) {
        precondition(seeds.count == l.count, "one dropout seed per sequence: \(l.count) sequences, \(seeds.count) seeds")
        lengths.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        probabilityOffsets.removeAll(keepingCapacity: true)
        dropoutSeeds.removeAll(keepingCapacity: true)
        rows = 0
        probabilityCount = 0
        longest = 0
        for (t, seed) in zip(l, seeds) {
            lengths.append(t)
            starts.append(rows)
            probabilityOffsets.append(probabilityCount)
            dropoutSeeds.append(seed)
            rows += t
            probabilityCount += h * t * t
            longest = max(longest, t)
        }
    }

    var count: Int { lengths.count }
}

enum GEMMTranspose { case noTrans, trans }

/// C (m, n) = α · op(A) · op(B) + β · C, row-major, through BLAS.
@inline(__always)
func gemm(_ ta: GEMMTranspose, _ tb: GEMMTranspose, m: Int, n: Int, k: Int, alpha: Float,
          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, beta: Float,
          _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    guard m > 0, n > 0 else { return }
    cblas_sgemm(CblasRowMajor, ta == .trans ? CblasTrans : CblasNoTrans, tb == .trans ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
