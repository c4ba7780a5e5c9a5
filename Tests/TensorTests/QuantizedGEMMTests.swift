import CKernels
import Foundation
import Tensor
import TestSupport
import XCTest

/// The prompt's integer GEMM on interleaved Q4 weights (quantized_gemm_x8.h): tiles of 8
/// weight rows × 4 (AVX2: 2) activation rows compute every value bit for bit as the one-row
/// decode mat-vec does, at every instruction-set level, whatever the row count leaves over.
final class QuantizedGEMMTests: XCTestCase {
    func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) }
    }

    /// `linearForward` over a prompt of m rows (the path prefill takes) against `matvec` on
    /// each row alone (the path decode takes): identical bits. m = 1, 3, 5, 17, 33 leave 1, 3,
    /// 1, 1, 1 rows past the last whole tile of 4 (and of 2 at the AVX2 level); n = 24 is three
    /// groups of 8; k covers odd block counts and several superblocks.
    func testEveryPromptRowIsTheDecodeRowBitForBit() {
        defer { lk_limit_simd(3) }
        let n = 24
        for level in Int32(0)...3 {
            lk_limit_simd(level)
            for (type, ks) in [(DType.q4_0, [32, 96, 544]), (.q4_K, [256, 768])] {
                for k in ks {
                    let weight = Tensor(randoms(n * k, seed: UInt64(k)), shape: [n, k]).converted(to: type)
                        .interleavedForDecode(force: true)
                    for m in [1, 2, 3, 5, 17, 33] {
                        let x = randoms(m * k, seed: UInt64(m * 131 + k))
                        var prompt = [Float](repeating: .nan, count: m * n)
                        prompt.withUnsafeMutableBufferPointer {
                            linearForward($0.baseAddress!, x, weight: weight, rows: m, scratch: ScratchBuffer())
                        }
                        for row in 0..<m {
                            var alone = [Float](repeating: .nan, count: n)
                            alone.withUnsafeMutableBufferPointer {
                                matvec($0.baseAddress!, Array(x[row * k..<(row + 1) * k]), weight: weight)
                            }
                            let got = Array(prompt[row * n..<(row + 1) * n])
                            if lk_prefers_q4_0x8() != 0 {
                                XCTAssertEqual(got.map(\.bitPattern), alone.map(\.bitPattern),
                                               "level \(level) \(type) k=\(k) m=\(m) row \(row)")
                            } else {
                                // Portable level: the prompt widens for SGEMM (f32 activations),
                                // so the two differ by the activations' rounding (as below).
                                let scale = Float(k).squareRoot() / 3
                                for (a, b) in zip(got, alone) { XCTAssertEqual(a, b, accuracy: 0.02 * scale, "k=\(k)") }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The kernel entry point on its own: row ranges that split a group of 8 (a caller may pass
    /// them; threads never do), and a weight long enough for several of the GEMM's weight
    /// blocks (at most 1 MB: 910 groups of 1152 bytes; here 1001 groups, the last block partial)
    /// — each value the one-row mat-vec's.
    func testRowRangesAndWeightBlocks() {
        defer { lk_limit_simd(3) }
        let n = 8008, k = 256, m = 6
        let weight = Tensor(randoms(n * k, seed: 9), shape: [n, k]).converted(to: .q4_0).interleavedForDecode(force: true)
        XCTAssertEqual(weight.dtype, .q4_0x8)
        let x = randoms(m * k, seed: 10)
        let rowBytes = lk_qact_bytes(k)
        var xq = [UInt8](repeating: 0, count: m * rowBytes)
        for level in Int32(1)...3 {
            lk_limit_simd(level)
            xq.withUnsafeMutableBytes { q in
                for j in 0..<m { x.withUnsafeBufferPointer { lk_quantize_activation($0.baseAddress! + j * k, q.baseAddress! + j * rowBytes, k) } }
            }
            var alone = [Float](repeating: .nan, count: m * n)
            for j in 0..<m {
                xq.withUnsafeBytes { q in
                    alone.withUnsafeMutableBufferPointer {
                        lk_matvec_q(Int32(LK_Q4_0X8), weight.rawPointer, q.baseAddress! + j * rowBytes, $0.baseAddress! + j * n, 0, n, k)
                    }
                }
            }
            for rows in [0..<n, 5..<1001, 1000..<n, 3..<4, 7277..<7290] {
                var y = [Float](repeating: 0, count: m * n)
                lk_matvec_rows_q(Int32(LK_Q4_0X8), weight.rawPointer, xq, &y, rows.lowerBound, rows.upperBound, k, m, n)
                for j in 0..<m {
                    XCTAssertEqual(Array(y[j * n + rows.lowerBound..<j * n + rows.upperBound]).map(\.bitPattern),
                                   Array(alone[j * n + rows.lowerBound..<j * n + rows.upperBound]).map(\.bitPattern),
                                   "level \(level) rows \(rows) activation row \(j)")
                    XCTAssertTrue(y[j * n..<j * n + rows.lowerBound].allSatisfy { $0 == 0 }, "rows before \(rows) untouched")
                    XCTAssertTrue(y[j * n + rows.upperBound..<(j + 1) * n].allSatisfy { $0 == 0 }, "rows after \(rows) untouched")
                }
            }
        }
    }

    /// What the quantised activations cost against SGEMM on the dequantised weight with f32
    /// activations: for these uniform values the error stays under 2% of the row's scale
    /// (√k · rms of the products), the size of the one-row mat-vec's own error.
    func testPromptStaysCloseToTheDequantizedProduct() {
        let n = 16, k = 512, m = 9
        for type in [DType.q4_0, .q4_K] {
            let plain = Tensor(randoms(n * k, seed: 21), shape: [n, k]).converted(to: type)
            let mixed = plain.interleavedForDecode(force: true)
            let x = randoms(m * k, seed: 22)
            var reference = [Float](repeating: .nan, count: m * n), prompt = reference
            reference.withUnsafeMutableBufferPointer { linearForward($0.baseAddress!, x, weight: plain, rows: m, scratch: ScratchBuffer()) }
            prompt.withUnsafeMutableBufferPointer { linearForward($0.baseAddress!, x, weight: mixed, rows: m, scratch: ScratchBuffer()) }
            let scale = Float(k).squareRoot() / 3
            for (a, b) in zip(prompt, reference) { XCTAssertEqual(a, b, accuracy: 0.02 * scale, "\(type)") }
        }
    }
}
