import CKernels
import Foundation
import Tensor
import TestSupport
import XCTest

/// Batched decode's linear gives every row exactly what the one-row mat-vec gives it,
/// whatever the number of rows beside it: the property continuous batching relies on.
final class BatchInvariantLinearTests: XCTestCase {
    func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000 - 1000) / 997
        }
    }

    func testEveryRowIsBitIdenticalToTheOneRowMatvec() {
        // Every instruction-set level the CPU has (portable C, AVX2, AVX2 with AVX-512VL's
        // registers, 512-bit bodies); k covers each body's full steps, remainders and scalar
        // tail, and the several-row kernel's k tiles (512); m up to 9 covers its blocks of 8,
        // 4, 2 and 1 activation rows; n = 13 its groups of 8 weight rows, pairs and a single.
        defer { lk_limit_simd(3) }
        for level in Int32(0)...3 {
            lk_limit_simd(level)
            for dtype in [DType.f32, .f16, .bf16] {
                for k in [7, 8, 40, 67, 96, 600, 1100] {
                    let n = 13
                    let weight = Tensor(randoms(n * k, seed: UInt64(k)), shape: [n, k]).converted(to: dtype)
                    let bias = Tensor(randoms(n, seed: 99), shape: [n])
                    for m in 1...9 {
                        let x = randoms(m * k, seed: UInt64(m * 31 + k))
                        var batched = [Float](repeating: .nan, count: m * n)
                        batched.withUnsafeMutableBufferPointer { y in
                            linearForwardBatchInvariant(y.baseAddress!, x, weight: weight, bias: bias, rows: m)
                        }
                        for row in 0..<m {
                            var alone = [Float](repeating: .nan, count: n)
                            let xr = Array(x[row * k..<(row + 1) * k])
                            alone.withUnsafeMutableBufferPointer { y in
                                linearForward(y.baseAddress!, xr, weight: weight, bias: bias, rows: 1, scratch: ScratchBuffer())
                            }
                            XCTAssertEqual(Array(batched[row * n..<(row + 1) * n]).map(\.bitPattern), alone.map(\.bitPattern),
                                           "level \(level) \(dtype) k=\(k) m=\(m) row \(row)")
                            // And every level computes the dot product itself, not something else.
                            var exact = [Double](repeating: 0, count: n)
                            let w = weight.toFloatArray()
                            for r in 0..<n {
                                for c in 0..<k { exact[r] += Double(w[r * k + c]) * Double(xr[c]) }
                                exact[r] += Double(bias.floats[r])
                                XCTAssertEqual(Double(alone[r]), exact[r], accuracy: 1e-4 * Double(k), "level \(level) \(dtype) k=\(k)")
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The Q8_0/Q4_0 decode kernels: the integer block dot products equal the float dot product of
/// the dequantised weight with the Q8_0-quantised activation, and batching keeps every bit.
final class QuantizedLinearTests: XCTestCase {
    func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) }
    }

    /// At every instruction-set level (portable C; AVX2; 256-bit VNNI with AVX-512VL's
    /// registers; 512-bit VNNI with blocks in pairs; the K-quants have portable and 512-bit
    /// bodies only), every row of a batch equals the one-row
    /// mat-vec bit for bit, and the value is the float dot product of the dequantised weight
    /// with the Q8_0-quantised activation. k covers an odd number of blocks (the 512-bit
    /// bodies' half pair), whole and partial tiles of 16 blocks; m up to 9 the bodies of 4, 2
    /// and 1 activation rows and two groups of 8; n = 13 the groups of 8 weight rows, pairs
    /// and a single row.
    func testEveryLevelIsBatchInvariantAndEqualsTheDequantizedReference() {
        defer { lk_limit_simd(3) }
        let n = 13
        for level in Int32(0)...3 {
            lk_limit_simd(level)
            for dtype in [DType.q8_0, .q4_0, .q4_K, .q6_K] {
                for k in dtype.blockSize == 32 ? [32, 96, 160, 544, 1056] : [256, 512, 1280] {
                    let weight = Tensor(randoms(n * k, seed: UInt64(k)), shape: [n, k]).converted(to: dtype)
                    let w = weight.toFloatArray()
                    for m in [1, 2, 3, 4, 5, 8, 9] {
                        let x = randoms(m * k, seed: UInt64(m * 31 + k))
                        var batched = [Float](repeating: .nan, count: m * n)
                        batched.withUnsafeMutableBufferPointer { linearForwardBatchInvariant($0.baseAddress!, x, weight: weight, rows: m) }
                        for row in 0..<m {
                            let xr = Array(x[row * k..<(row + 1) * k])
                            var alone = [Float](repeating: .nan, count: n)
                            alone.withUnsafeMutableBufferPointer { matvec($0.baseAddress!, xr, weight: weight) }
                            XCTAssertEqual(Array(batched[row * n..<(row + 1) * n]).map(\.bitPattern), alone.map(\.bitPattern),
                                           "level \(level) \(dtype) k=\(k) m=\(m) row \(row)")
                            let xq = Tensor(xr, shape: [k]).converted(to: .q8_0).toFloatArray()
                            for r in 0..<n {
                                var expected: Double = 0
                                for c in 0..<k { expected += Double(w[r * k + c]) * Double(xq[c]) }
                                XCTAssertEqual(Double(alone[r]), expected, accuracy: 1e-4 * max(1, abs(expected)),
                                               "level \(level) \(dtype) k=\(k) row \(r)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Q4_0 with its rows interleaved in eights (the AVX2 decode layout) widens to Q4_0's floats
    /// and goes back to Q4_0's bytes. Prefill at the levels with its own bodies is the integer
    /// GEMM, each row the decode row bit for bit; at the portable level it widens for SGEMM, bit
    /// for bit Q4_0's. Decode at levels 1-3 runs its own body (whole-block integer sums): every row of a
    /// batch equals the one-row mat-vec bit for bit, within float rounding of Q4_0's kernel; at
    /// other levels it is Q4_0's kernel. Row ranges split a group of 8 (threads take whole
    /// groups; a caller may not).
    func testInterleavedQ4_0() {
        checkInterleaved(.q4_0, as: .q4_0x8, code: Int32(LK_Q4_0X8), ks: [32, 96, 544, 1056])
    }

    /// As `testInterleavedQ4_0` for Q4_K (superblocks of 256, scales decoded to bytes).
    func testInterleavedQ4_K() {
        checkInterleaved(.q4_K, as: .q4_Kx8, code: Int32(LK_Q4_KX8), ks: [256, 512, 1280])
    }

    /// As `testInterleavedQ4_0` for Q8_0 (codes stored + 128), except that its prompts widen
    /// for SGEMM at every level: bit for bit Q8_0's prefill.
    func testInterleavedQ8_0() {
        checkInterleaved(.q8_0, as: .q8_0x8, code: Int32(LK_Q8_0X8), ks: [32, 96, 544, 1056], integerPrefill: false)
    }

    private func checkInterleaved(_ type: DType, as layout: DType, code: Int32, ks: [Int], integerPrefill: Bool = true) {
        defer { lk_limit_simd(3) }
        let n = 40
        for k in ks {
            let plain = Tensor(randoms(n * k, seed: UInt64(k) + 7), shape: [n, k]).converted(to: type)
            let mixed = plain.interleavedForDecode(force: true)
            XCTAssertEqual(mixed.dtype, layout)
            XCTAssertEqual(mixed.inRowOrder().dtype, type)
            let (num, den) = type == .q4_K ? (148, 144) : (1, 1)   // Q4_Kx8 keeps its 6-bit scales decoded to bytes
            XCTAssertEqual(mixed.byteCount * den, plain.byteCount * num, "k=\(k)")
            XCTAssertEqual(mixed.toFloatArray().map(\.bitPattern), plain.toFloatArray().map(\.bitPattern), "k=\(k)")
            let back = mixed.inRowOrder()
            withExtendedLifetime(back) {
                XCTAssertEqual(Data(bytes: back.rawPointer, count: plain.byteCount),
                               Data(bytes: plain.rawPointer, count: plain.byteCount), "k=\(k)")
                XCTAssertNotEqual(Data(bytes: mixed.rawPointer, count: plain.byteCount),
                                  Data(bytes: plain.rawPointer, count: plain.byteCount), "k=\(k) is really interleaved")
            }
            // Every level with its own bodies (AVX2; VNNI at 2-3 on a CPU with it) sums the same
            // integers in the same order: the same bits.
            var ownDecode: [Float]?
            for level in Int32(0)...3 {
                lk_limit_simd(level)
                let own = lk_prefers_q4_0x8() != 0
                let x = randoms(70 * k, seed: UInt64(k) + 1)
                func run(_ w: Tensor, _ m: Int, prefill: Bool = false) -> [Float] {
                    var y = [Float](repeating: .nan, count: m * n)
                    y.withUnsafeMutableBufferPointer { y in
                        if prefill {
                            linearForward(y.baseAddress!, x, weight: w, rows: m, scratch: ScratchBuffer())
                        } else {
                            linearForwardBatchInvariant(y.baseAddress!, x, weight: w, rows: m)
                        }
                    }
                    return y
                }
                let alone = (0..<9).map { row -> [Float] in
                    var y = [Float](repeating: .nan, count: n)
                    y.withUnsafeMutableBufferPointer { matvec($0.baseAddress!, Array(x[row * k..<(row + 1) * k]), weight: mixed) }
                    return y
                }
                if own {
                    let decode = alone.flatMap { $0 }
                    if let ownDecode {
                        XCTAssertEqual(decode.map(\.bitPattern), ownDecode.map(\.bitPattern), "level \(level) k=\(k) decode as level 1")
                    } else {
                        ownDecode = decode
                    }
                }
                let prefill = run(mixed, 70, prefill: true)
                if own && integerPrefill {
                    // The integer GEMM: each prompt row is the decode row (QuantizedGEMMTests).
                    for row in 0..<9 {
                        XCTAssertEqual(Array(prefill[row * n..<(row + 1) * n]).map(\.bitPattern), alone[row].map(\.bitPattern),
                                       "level \(level) k=\(k) prefill row \(row)")
                    }
                } else {
                    XCTAssertEqual(prefill.map(\.bitPattern), run(plain, 70, prefill: true).map(\.bitPattern),
                                   "level \(level) k=\(k) prefill")
                }
                for m in [1, 2, 3, 9] {
                    let batched = run(mixed, m), reference = run(plain, m)
                    for row in 0..<m {
                        XCTAssertEqual(Array(batched[row * n..<(row + 1) * n]).map(\.bitPattern), alone[row].map(\.bitPattern),
                                       "level \(level) k=\(k) m=\(m) row \(row)")
                    }
                    if own {
                        for (a, b) in zip(batched, reference) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "level \(level) k=\(k)") }
                    } else {
                        XCTAssertEqual(batched.map(\.bitPattern), reference.map(\.bitPattern), "level \(level) k=\(k) m=\(m)")
                    }
                }
                var xq = [UInt8](repeating: 0, count: lk_qact_bytes(k))
                lk_quantize_activation(x, &xq, k)
                for rows in [0..<3, 3..<17, 17..<40, 5..<6] {
                    var part = [Float](repeating: 0, count: n)
                    lk_matvec_q(code, mixed.rawPointer, xq, &part, rows.lowerBound, rows.upperBound, k)
                    XCTAssertEqual(Array(part[rows]).map(\.bitPattern), Array(alone[0][rows]).map(\.bitPattern), "level \(level) k=\(k) rows \(rows)")
                    XCTAssertTrue(part[..<rows.lowerBound].allSatisfy { $0 == 0 } && part[rows.upperBound...].allSatisfy { $0 == 0 })
                }
            }
        }
    }

    func testQuantizingTheActivationLosesLittle() {
        let n = 7
        for dtype in [DType.q8_0, .q4_0, .q4_K, .q6_K] {
            let k = dtype.blockSize * 3
            let weight = Tensor(randoms(n * k, seed: 3), shape: [n, k]).converted(to: dtype)
            let w = weight.toFloatArray()
            let x = randoms(k, seed: 5)
            var y = [Float](repeating: .nan, count: n)
            y.withUnsafeMutableBufferPointer { matvec($0.baseAddress!, x, weight: weight) }
            var exact: Float = 0
            for c in 0..<k { exact += w[c] * x[c] }
            XCTAssertEqual(y[0], exact, accuracy: 0.05 * max(1, abs(exact)), "\(dtype)")
        }
    }

    /// Quantising with our kernels gives ggml's blocks: the types fixture's Q8_0/Q4_0 tensors
    /// were quantised by the gguf package from values that dequantise back to the same blocks.
    func testQuantizingDequantizedBlocksIsStable() {
        for dtype in [DType.q8_0, .q4_0] {
            let once = Tensor(randoms(256, seed: 1), shape: [256]).converted(to: dtype)
            let again = once.toF32().converted(to: dtype)
            XCTAssertEqual(once.toFloatArray(), again.toFloatArray(), "\(dtype)")
        }
    }
}
