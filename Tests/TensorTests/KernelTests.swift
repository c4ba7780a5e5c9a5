import CKernels
import Foundation
import Tensor
import TestSupport
import XCTest

/// Kernels against plain-Swift references and exact IEEE values.
final class KernelTests: XCTestCase {
    func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000 - 1000) / 1000
        }
    }

    func testHalfConversionsAreExact() {
        // bit patterns → values, including subnormals, infinities and signed zero
        let cases: [(UInt16, Float)] = [(0x3C00, 1), (0xC000, -2), (0x0001, 5.9604645e-8), (0x03FF, 6.097555e-5),
                                        (0x7BFF, 65504), (0x7C00, .infinity), (0xFC00, -.infinity), (0x8000, -0.0)]
        let bits = Tensor(zeros: [cases.count], dtype: .f16)
        let p = bits.rawPointer.assumingMemoryBound(to: UInt16.self)
        for (i, c) in cases.enumerated() { p[i] = c.0 }
        XCTAssertEqual(bits.toFloatArray(), cases.map(\.1))
        // and back: round-to-nearest-even, overflow to infinity
        let back = Tensor(cases.map(\.1) + [65520, 1.00048828125, 1.000732421875], shape: [cases.count + 3]).converted(to: .f16)
        let q = back.rawPointer.assumingMemoryBound(to: UInt16.self)
        XCTAssertEqual((0..<cases.count).map { q[$0] }, cases.map(\.0))
        XCTAssertEqual(q[cases.count], 0x7C00)     // 65520 rounds up to inf
        XCTAssertEqual(q[cases.count + 1], 0x3C00) // halfway, ties to even (down)
        XCTAssertEqual(q[cases.count + 2], 0x3C01) // above halfway rounds up
        let nan = Tensor([Float.nan], shape: [1]).converted(to: .f16).toFloatArray()
        XCTAssertTrue(nan[0].isNaN)
    }

    func testBFloat16RoundsToNearestEven() {
        let t = Tensor([1, 1.00390625, 1.01171875, -3.5, .infinity], shape: [5]).converted(to: .bf16)
        XCTAssertEqual(t.toFloatArray(), [1, 1, 1.015625, -3.5, .infinity])
    }

    /// The mat-vec reads f32, f16 and bf16 weights and agrees with a double-precision reference.
    func testMatvecAllWeightTypes() {
        for (n, k) in [(7, 3), (33, 100), (64, 257)] {
            let w32 = Tensor(randoms(n * k, seed: UInt64(n)), shape: [n, k])
            let x = randoms(k, seed: 99)
            for dtype in [DType.f32, .f16, .bf16] {
                let w = w32.converted(to: dtype)
                let wf = w.toFloatArray()  // the weight values the kernel really sees
                var y = [Float](repeating: 0, count: n)
                matvec(&y, x, weight: w)
                let expected = (0..<n).map { r in Float((0..<k).reduce(0.0) { $0 + Double(wf[r * k + $1]) * Double(x[$1]) }) }
                XCTAssertLessThan(maxAbsDifference(y, expected), 1e-4, "\(dtype) \(n)x\(k)")
            }
        }
    }

    /// Many-row linear (GEMM, widening f16 in blocks) equals row-by-row mat-vec.
    func testLinearManyRowsEqualsMatvec() {
        let (t, n, k) = (5, 40, 24)
        let x = randoms(t * k, seed: 3)
        let bias = Tensor(randoms(n, seed: 4), shape: [n])
        for dtype in [DType.f32, .f16, .bf16] {
            let w = Tensor(randoms(n * k, seed: 5), shape: [n, k]).converted(to: dtype)
            var many = [Float](repeating: 0, count: t * n)
            linearForward(&many, x, weight: w, bias: bias, rows: t, scratch: ScratchBuffer())
            var single = [Float]()
            for r in 0..<t {
                var y = [Float](repeating: 0, count: n)
                linearForward(&y, Array(x[(r * k)..<((r + 1) * k)]), weight: w, bias: bias, rows: 1, scratch: ScratchBuffer())
                single += y
            }
            XCTAssertLessThan(maxAbsDifference(many, single), 1e-5, "\(dtype)")
        }
    }

    func testRMSNormMatchesDefinition() {
        let (t, d) = (3, 10)
        let x = randoms(t * d, seed: 7), w = randoms(d, seed: 8)
        var y = [Float](repeating: 0, count: t * d)
        rmsNormForward(&y, x, weight: w, rows: t, dim: d, eps: 1e-5)
        var expected = [Float]()
        for r in 0..<t {
            let row = x[(r * d)..<((r + 1) * d)]
            let rms = (row.map { Double($0 * $0) }.reduce(0, +) / Double(d) + 1e-5).squareRoot()
            expected += row.enumerated().map { Float(Double($0.element) / rms) * w[$0.offset] }
        }
        XCTAssertLessThan(maxAbsDifference(y, expected), 1e-6)
    }

    /// Causal attention over a cache, all queries at once, equals one query at a time.
    func testPrefillAttentionEqualsOneAtATime() {
        let (t, h, g, e) = (6, 4, 2, 8)
        let q = randoms(t * h * e, seed: 11), k = randoms(t * g * e, seed: 12), v = randoms(t * g * e, seed: 13)
        var all = [Float](repeating: 0, count: t * h * e)
        var scores = [Float](repeating: 0, count: t * t * h)
        causalAttention(out: &all, q: q, keys: k, values: v, start: 0, tokens: t, heads: h, kvHeads: g,
                        headDim: e, scores: &scores)
        var one = [Float]()
        for i in 0..<t {
            var o = [Float](repeating: 0, count: h * e)
            causalAttention(out: &o, q: Array(q[(i * h * e)..<((i + 1) * h * e)]), keys: k, values: v, start: i,
                            tokens: 1, heads: h, kvHeads: g, headDim: e, scores: &scores)
            one += o
        }
        XCTAssertLessThan(maxAbsDifference(all, one), 1e-5)
        // the first query sees only position 0: its output is value row 0 of its KV head
        XCTAssertEqual(Array(all[0..<e]), Array(v[0..<e]))
    }

    /// An f16 cache is an f32 cache holding the f16-rounded rows: prefill and decode give the
    /// very same floats at every SIMD level with vector bodies (the portable level's dot product
    /// sums in another order: within 1e-6 there).
    func testF16CacheAttentionEqualsF32OfRoundedRows() {
        let (t, h, g, e) = (7, 4, 2, 40)   // e not a multiple of 16 or 32: the tails are widened too
        let q = randoms(t * h * e, seed: 31), k = randoms(t * g * e, seed: 32), v = randoms(t * g * e, seed: 33)
        var k16 = [UInt16](repeating: 0, count: k.count), v16 = k16
        lk_f32_to_f16(k, &k16, k.count)
        lk_f32_to_f16(v, &v16, v.count)
        var kr = [Float](repeating: 0, count: k.count), vr = kr
        lk_f16_to_f32(k16, &kr, k.count)
        lk_f16_to_f32(v16, &vr, v.count)
        XCTAssertNotEqual(kr, k)   // the rounding is real
        defer { lk_limit_simd(3) }
        for level: Int32 in [0, 1, 2, 3] {
            lk_limit_simd(level)
            var scores = [Float](repeating: 0, count: t * t * h)
            var widened = [Float](repeating: 0, count: 2 * t * e)
            // prefill of the last 4 tokens after 3 cached ones, then one decode query at position 6
            for (start, n) in [(3, 4), (6, 1)] {
                let qs = Array(q[(start * h * e)..<((start + n) * h * e)])
                var want = [Float](repeating: 0, count: n * h * e), got = want
                causalAttention(out: &want, q: qs, keys: kr, values: vr, start: start, tokens: n, heads: h,
                                kvHeads: g, headDim: e, scores: &scores)
                k16.withUnsafeBytes { kb in
                    v16.withUnsafeBytes { vb in
                        causalAttention(out: &got, q: qs, keys: kb.baseAddress!, values: vb.baseAddress!, cacheType: .f16,
                                        start: start, tokens: n, heads: h, kvHeads: g, headDim: e,
                                        scores: &scores, widened: &widened)
                    }
                }
                if level == 0 && n == 1 {
                    XCTAssertLessThan(maxAbsDifference(got, want), 1e-6, "level \(level), \(n) tokens")
                } else {
                    XCTAssertEqual(got, want, "level \(level), \(n) tokens")
                }
            }
        }
    }

    /// F16C's f32 → f16 conversion gives the portable conversion's bits for every kind of value:
    /// ties, subnormals, overflow, infinities, NaNs (in vectors of 8 and in the tail).
    func testF32ToF16VectorEqualsScalar() {
        var x: [Float] = [0, -0.0, 1, -1, 65504, 65519.99, 65520, 1e9, -1e9, .infinity, -.infinity, .nan,
                          Float(bitPattern: 0x7fc0_1234), 5.96e-8, 2.98e-8, 2.99e-8, 1e-10, 6.1e-5, 6.09e-5,
                          1 + 1.0 / 2048, 1 + 3.0 / 2048, 1 + 1.0 / 4096, -(1 + 3.0 / 4096)]
        x += randoms(61, seed: 41).map { $0 * 70000 } + randoms(40, seed: 42).map { $0 * 1e-6 }
        var vector = [UInt16](repeating: 0, count: x.count), scalar = vector
        defer { lk_limit_simd(3) }
        lk_limit_simd(0)
        lk_f32_to_f16(x, &scalar, x.count)
        lk_limit_simd(3)
        lk_f32_to_f16(x, &vector, x.count)
        XCTAssertEqual(vector, scalar)
        XCTAssertEqual(scalar[4], 0x7bff)   // 65504: the largest half
        XCTAssertEqual(scalar[6], 0x7c00)   // 65520 rounds to infinity
    }

    /// lk_exp is one function at every SIMD level (bit for bit), within 2 ulp of e^x computed in
    /// double precision, and exact where IEEE says so (e^0 = 1, overflow to +inf, underflow to 0,
    /// NaN stays NaN).
    func testExpIsOneFunctionAtEveryLevelWithin2Ulp() {
        let n = 400_003   // not a multiple of any vector width: the padded tail runs too
        let x = (0..<n).map { Float(-110 + 200 * Double($0) / Double(n)) }
        defer { lk_limit_simd(3) }
        var byLevel: [[UInt32]] = []
        for level: Int32 in [0, 1, 3] {
            lk_limit_simd(level)
            var y = [Float](repeating: 0, count: n)
            lk_exp(x, &y, n)
            byLevel.append(y.map(\.bitPattern))
        }
        XCTAssertEqual(byLevel[1], byLevel[0], "AVX2 level differs from portable C")
        XCTAssertEqual(byLevel[2], byLevel[0], "AVX-512 level differs from portable C")
        var worst = 0.0
        for (xi, bits) in zip(x, byLevel[0]) {
            let exact = Foundation.exp(Double(xi))
            guard exact >= Double(Float.leastNormalMagnitude), exact <= Double(Float.greatestFiniteMagnitude) else { continue }
            let ulp = Double(Float(exact).ulp)
            worst = max(worst, abs(Double(Float(bitPattern: bits)) - exact) / ulp)
        }
        XCTAssertLessThanOrEqual(worst, 2, "max error \(worst) ulp")
        let special: [Float] = [0, .infinity, -.infinity, .nan, 88.8, -200, -0.0]
        var y = [Float](repeating: 1, count: special.count)
        lk_exp(special, &y, special.count)
        XCTAssertEqual(Array(y[0..<3]), [1, .infinity, 0])
        XCTAssertTrue(y[3].isNaN)
        XCTAssertEqual(Array(y[4...]), [.infinity, 0, 1])
    }

    /// The sigmoid gates and their gradients are the plain formulas over lk_exp, bit for bit, at
    /// every level and wherever an element falls (chunk offsets and tails of any length).
    func testSigmoidGatesEqualTheirFormulas() {
        let n = 103
        let g = randoms(n, seed: 5).map { $0 * 30 }, u = randoms(n, seed: 6), d = randoms(n, seed: 7)
        func e(_ v: Float) -> Float { var x = v, y: Float = 0; lk_exp(&x, &y, 1); return y }
        var silu = [Float](), dGate = [Float](), dUp = [Float](), quick = [Float](), dQuick = [Float]()
        for i in 0..<n {
            let s = 1 / (1 + e(-g[i])), q = 1 / (1 + e(-(1.702 * g[i])))
            silu.append(g[i] / (1 + e(-g[i])) * u[i])
            dGate.append(0.5 + d[i] * u[i] * s * (1 + g[i] * (1 - s)))
            dUp.append(0.25 + d[i] * g[i] * s)
            quick.append(g[i] / (1 + e(-(1.702 * g[i]))))
            dQuick.append(0.5 + d[i] * (q + 1.702 * g[i] * q * (1 - q)))
        }
        defer { lk_limit_simd(3) }
        for level: Int32 in [0, 1, 3] {
            lk_limit_simd(level)
            for start in [0, 1, 7, 50] {
                let m = n - start
                var y = [Float](repeating: 0, count: m), q = y
                var dg = [Float](repeating: 0.5, count: m), du = [Float](repeating: 0.25, count: m), dq = dg
                g.withUnsafeBufferPointer { gp in
                    let gs = gp.baseAddress! + start
                    u.withUnsafeBufferPointer { up in
                        d.withUnsafeBufferPointer { dp in
                            let us = up.baseAddress! + start, ds = dp.baseAddress! + start
                            lk_sigmoid_gate(&y, gs, us, 1, m)
                            lk_sigmoid_gate(&q, gs, nil, 1.702, m)
                            lk_swiglu_backward(&dg, &du, ds, gs, us, m, 1)
                            lk_quick_gelu_backward(&dq, ds, gs, m)
                        }
                    }
                }
                let at = "level \(level), offset \(start)"
                XCTAssertEqual(y.map(\.bitPattern), silu[start...].map(\.bitPattern), "SiLU gate, \(at)")
                XCTAssertEqual(q.map(\.bitPattern), quick[start...].map(\.bitPattern), "quick GELU, \(at)")
                XCTAssertEqual(dg.map(\.bitPattern), dGate[start...].map(\.bitPattern), "dGate, \(at)")
                XCTAssertEqual(du.map(\.bitPattern), dUp[start...].map(\.bitPattern), "dUp, \(at)")
                XCTAssertEqual(dq.map(\.bitPattern), dQuick[start...].map(\.bitPattern), "quick GELU dx, \(at)")
            }
        }
    }

    /// Softmax at every level: the exponentials are lk_exp's, normalised (sum 1 within float
    /// rounding, each value e^(x−max)/Σ to 1e-6), lengths from 1 to past two vector widths.
    func testSoftmaxAtEveryLevel() {
        defer { lk_limit_simd(3) }
        for level: Int32 in [0, 1, 3] {
            lk_limit_simd(level)
            for n in [1, 3, 16, 17, 40] {
                let x = randoms(n, seed: UInt64(n)).map { $0 * 20 }
                var y = x
                lk_softmax(&y, n)
                let m = x.max()!, w = x.map { Foundation.exp(Double($0 - m)) }, sum = w.reduce(0, +)
                for i in 0..<n {
                    XCTAssertEqual(Double(y[i]), w[i] / sum, accuracy: 1e-6, "level \(level), n \(n), index \(i)")
                }
                XCTAssertEqual(y.reduce(0, +), 1, accuracy: 1e-5)
            }
        }
    }

    func testRotaryIsARotation() {
        let rope = RotaryEmbedding(headDim: 8, theta: 10000)
        var cos = [Float](), sin = [Float]()
        rope.table(start: 3, count: 1, cos: &cos, sin: &sin)
        var x = randoms(16, seed: 21)
        let norm = { (v: ArraySlice<Float>) in v.map { $0 * $0 }.reduce(0, +) }
        let before = (norm(x[0..<8]), norm(x[8..<16]))
        rope.apply(&x, heads: 2, cos: cos, sin: sin)
        XCTAssertEqual(norm(x[0..<8]), before.0, accuracy: 1e-5)
        XCTAssertEqual(norm(x[8..<16]), before.1, accuracy: 1e-5)
        // position 0 is the identity
        rope.table(start: 0, count: 1, cos: &cos, sin: &sin)
        let y0 = randoms(8, seed: 22)
        var y = y0
        rope.apply(&y, heads: 1, cos: cos, sin: sin)
        XCTAssertEqual(y, y0)
    }
}
