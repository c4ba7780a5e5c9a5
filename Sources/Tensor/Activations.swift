import Foundation

/// SwiGLU's gate: out[i] = silu(gate[i]) * up[i], with silu(g) = g * sigmoid(g).
public func swigluForward(_ out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>,
                          up: UnsafePointer<Float>, count n: Int) {
    parallelFor(n, minChunk: 8192) { r in
        for i in r {
            let g = gate[i]
            out[i] = g / (1 + expf(-g)) * up[i]
        }
    }
}

/// In-place softmax over `n` values, max-subtracted for stability.
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    var m = -Float.infinity
    for i in 0..<n where x[i] > m { m = x[i] }
    var sum: Float = 0
    for i in 0..<n {
        let e = expf(x[i] - m)
        x[i] = e
        sum += e
    }
    let inv = 1 / sum
    for i in 0..<n { x[i] *= inv }
}

/// y += x over n floats.
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) {
    for i in 0..<n { y[i] += x[i] }
}

/// Backward of `swigluForward`, accumulating. With s = sigmoid(g):
/// d silu(g)/dg = s · (1 + g · (1 − s)), so dGate += dOut · up · s(1 + g(1 − s)), dUp += dOut · g·s.
public func swigluBackward(dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>,
                           dOut: UnsafePointer<Float>, gate: UnsafePointer<Float>,
                           up: UnsafePointer<Float>, count n: Int) {
    parallelFor(n, minChunk: 8192) { r in
        for i in r {
            let g = gate[i]
            let s = 1 / (1 + expf(-g))
            dGate[i] += dOut[i] * up[i] * s * (1 + g * (1 - s))
            dUp[i] += dOut[i] * g * s
        }
    }
}
