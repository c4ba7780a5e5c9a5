import Foundation

// Shape legend: T rows, D features.

/// RMSNorm as LLaMA computes it: y = x / sqrt(mean(x²) + eps) * weight, in f32.
public func rmsNormForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                           weight: UnsafePointer<Float>, rows t: Int, dim d: Int, eps: Float) {
    parallelFor(t, minChunk: max(1, 4096 / max(1, d))) { rows in
        for r in rows {
            let xr = x + r * d, yr = y + r * d
            var ss: Float = 0
            for i in 0..<d { ss += xr[i] * xr[i] }
            let inv = 1 / (ss / Float(d) + eps).squareRoot()
            for i in 0..<d { yr[i] = weight[i] * (xr[i] * inv) }
        }
    }
}

/// Mean and 1/sqrt(variance + eps) of one row of `d` values (the biased variance, as torch).
@inline(__always)
private func layerNormStatistics(_ xr: UnsafePointer<Float>, dim d: Int, eps: Float) -> (mean: Float, inv: Float) {
    var mean: Float = 0
    for i in 0..<d { mean += xr[i] }
    mean /= Float(d)
    var v: Float = 0
    for i in 0..<d { let c = xr[i] - mean; v += c * c }
    return (mean, 1 / (v / Float(d) + eps).squareRoot())
}

/// LayerNorm over the last dimension (CLIP, later): y = (x - mean) / sqrt(var + eps) * w + b.
public func layerNormForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             rows t: Int, dim d: Int, eps: Float) {
    parallelFor(t, minChunk: max(1, 4096 / max(1, d))) { rows in
        for r in rows {
            let xr = x + r * d, yr = y + r * d
            let (mean, inv) = layerNormStatistics(xr, dim: d, eps: eps)
            for i in 0..<d { yr[i] = (xr[i] - mean) * inv * weight[i] + (bias?[i] ?? 0) }
        }
    }
}

// MARK: - Backward

/// Backward of `rmsNormForward`, accumulating into dx and (if not nil) dWeight.
///
/// With x̂ = x·r, r = (mean(x²) + eps)^-½ and g = w ⊙ dy:
/// dx = r·g − x · r³ · (g·x) / D (the second term is the path through r), dW = Σ_rows dy ⊙ x̂.
public func rmsNormBackward(dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
                            dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                            rows t: Int, dim d: Int, eps: Float) {
    let rstd = UnsafeMutablePointer<Float>.allocate(capacity: max(1, t))
    defer { rstd.deallocate() }
    parallelFor(t, minChunk: max(1, 4096 / max(1, d))) { rows in
        for r in rows {
            let xr = x + r * d, gr = dy + r * d, dxr = dx + r * d
            var ss: Float = 0, dot: Float = 0
            for i in 0..<d {
                ss += xr[i] * xr[i]
                dot += weight[i] * gr[i] * xr[i]
            }
            let inv = 1 / (ss / Float(d) + eps).squareRoot()
            rstd[r] = inv
            let c = dot * inv * inv * inv / Float(d)
            for i in 0..<d { dxr[i] += weight[i] * gr[i] * inv - c * xr[i] }
        }
    }
    guard let dWeight else { return }
    // Threads own column ranges, so the sums over rows never race.
    parallelFor(d, minChunk: max(16, 4096 / max(1, t))) { cols in
        for r in 0..<t {
            let xr = x + r * d, gr = dy + r * d, inv = rstd[r]
            for i in cols { dWeight[i] += gr[i] * xr[i] * inv }
        }
    }
}

/// Backward of `layerNormForward`, accumulating into dx, dWeight and dBias (either may be nil).
///
/// With x̂ = (x − μ)·r and g = w ⊙ dy: dx = r · (g − mean(g) − x̂ · mean(g ⊙ x̂)) — the two
/// means are the paths through μ and r; dW = Σ_rows dy ⊙ x̂, dBias = Σ_rows dy.
public func layerNormBackward(dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
                              dBias: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                              x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              rows t: Int, dim d: Int, eps: Float) {
    let stats = UnsafeMutablePointer<Float>.allocate(capacity: max(1, 2 * t))  // (mean, rstd) per row
    defer { stats.deallocate() }
    parallelFor(t, minChunk: max(1, 4096 / max(1, d))) { rows in
        for r in rows {
            let xr = x + r * d, gr = dy + r * d, dxr = dx + r * d
            let (mean, inv) = layerNormStatistics(xr, dim: d, eps: eps)
            stats[2 * r] = mean
            stats[2 * r + 1] = inv
            var gMean: Float = 0, gxMean: Float = 0
            for i in 0..<d {
                let g = weight[i] * gr[i]
                gMean += g
                gxMean += g * (xr[i] - mean) * inv
            }
            gMean /= Float(d)
            gxMean /= Float(d)
            for i in 0..<d {
                let xhat = (xr[i] - mean) * inv
                dxr[i] += inv * (weight[i] * gr[i] - gMean - xhat * gxMean)
            }
        }
    }
    if let dBias { accumulateColumnSums(dBias, dy, rows: t, columns: d) }
    guard let dWeight else { return }
    parallelFor(d, minChunk: max(16, 4096 / max(1, t))) { cols in
        for r in 0..<t {
            let xr = x + r * d, gr = dy + r * d, mean = stats[2 * r], inv = stats[2 * r + 1]
            for i in cols { dWeight[i] += gr[i] * (xr[i] - mean) * inv }
        }
    }
}
