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

/// LayerNorm over the last dimension (CLIP, later): y = (x - mean) / sqrt(var + eps) * w + b.
public func layerNormForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             rows t: Int, dim d: Int, eps: Float) {
    parallelFor(t, minChunk: max(1, 4096 / max(1, d))) { rows in
        for r in rows {
            let xr = x + r * d, yr = y + r * d
            var mean: Float = 0
            for i in 0..<d { mean += xr[i] }
            mean /= Float(d)
            var v: Float = 0
            for i in 0..<d { let c = xr[i] - mean; v += c * c }
            let inv = 1 / (v / Float(d) + eps).squareRoot()
            for i in 0..<d { yr[i] = (xr[i] - mean) * inv * weight[i] + (bias?[i] ?? 0) }
        }
    }
}
