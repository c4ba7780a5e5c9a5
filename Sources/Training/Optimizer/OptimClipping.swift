import Tensor

/// Scales all gradients so their global L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_(params, maxNorm)`: the norm is taken over every
/// parameter's gradient together, and when it exceeds `maxNorm` each gradient is multiplied by
/// `maxNorm / (norm + 1e-6)` (the 1e-6 is torch's, so a clipped norm lands just under `maxNorm`).
///
/// Returns the norm *before* clipping (what HF logs as `grad_norm`). A non-finite norm leaves
/// the gradients untouched: the caller should skip that step.
///
/// ```swift
/// let gradNorm = clipGradientNorm(params, maxNorm: 1.0)
/// ```
@discardableResult
public func clipGradientNorm(_ ps: [Parameter], maxNorm: Float) -> Float {
    var sumOfSquares = 0.0
    for p in ps { sumOfSquares += p.grad.withUnsafeBufferPointer(squaredNorm) }
    let norm = Float(sumOfSquares.squareRoot())
    guard norm.isFinite else { return norm }
    let coefficient = maxNorm / (norm + 1e-6)
    guard coefficient < 1 else { return norm }
    for p in ps {
        p.grad.withUnsafeMutableBufferPointer { g in
            let base = g.baseAddress!
            parallelFor(g.count, minChunk: 1 << 16) { range in
                for i in range { base[i] *= coefficient }
            }
        }
    }
    return norm
}

/// Σ x² in double, over fixed blocks summed in order, so the result does not depend on the
/// thread count (a resumed run on another machine clips identically).
func squaredNorm(_ x: UnsafeBufferPointer<Float>) -> Double {
    let blockSize = 1 << 16
    let blocks = (x.count + blockSize - 1) / blockSize
    guard blocks > 1 else { return blockSquares(x, 0..<x.count) }
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: blocks) { partial in
        let out = partial.baseAddress!
        parallelFor(blocks) { range in
            for b in range { out[b] = blockSquares(x, b * blockSize..<min(x.count, (b + 1) * blockSize)) }
        }
        return partial.reduce(0, +)
    }
}

@inline(__always)
private func blockSquares(_ x: UnsafeBufferPointer<Float>, _ range: Range<Int>) -> Double {
    var s = 0.0
    for i in range { let v = Double(x[i]); s += v * v }
    return s
}
