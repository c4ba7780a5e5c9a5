import CKernels

// The exponentials here are CKernels' `lk_exp` (within 2 ulp of e^x, the same bits at every
// SIMD level), vectorised: an element's value never depends on where a thread's chunk starts.

/// SwiGLU's gate: out[i] = silu(gate[i]) * up[i], with silu(g) = g * sigmoid(g) = g / (1 + e^-g).
/// `out` may be `gate` or `up`.
public func swigluForward(_ out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>,
                          up: UnsafePointer<Float>, count n: Int) {
    parallelFor(n, minChunk: 8192) { r in
        lk_sigmoid_gate(out + r.lowerBound, gate + r.lowerBound, up + r.lowerBound, 1, r.count)
    }
}

/// In-place softmax over `n` values, max-subtracted for stability.
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    lk_softmax(x, n)
}

/// y += x over n floats.
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) {
    for i in 0..<n { y[i] += x[i] }
}

/// Backward of `swigluForward`. With s = sigmoid(g):
/// d silu(g)/dg = s · (1 + g · (1 − s)), so dGate += dOut · up · s(1 + g(1 − s)), dUp += dOut · g·s;
/// with `accumulate` false both are written instead of added to (no zeroing pass). `dUp` may be
/// `dOut` (each element is read before it is written).
public func swigluBackward(dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>,
                           dOut: UnsafePointer<Float>, gate: UnsafePointer<Float>,
                           up: UnsafePointer<Float>, count n: Int, accumulate: Bool = true) {
    parallelFor(n, minChunk: 8192) { r in
        let i = r.lowerBound
        lk_swiglu_backward(dGate + i, dUp + i, dOut + i, gate + i, up + i, r.count, accumulate ? 1 : 0)
    }
}
