import Foundation

/// Rotary position embedding in Hugging Face's convention ("rotate half"):
/// dimension i is paired with i + d/2, not with its neighbour as in Meta's
/// original code (HF permutes q/k weights at conversion to make that equivalent).
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    /// inv_freq[i] = 1 / theta^(2i/d), divided by the linear scaling factor.
    public let inverseFrequencies: [Float]

    public init(headDim: Int, theta: Double, linearScaling: Double = 1) {
        self.headDim = headDim
        // Same float32 arithmetic as transformers: int exponents, then pow in float32.
        inverseFrequencies = (0..<(headDim / 2)).map { i in
            let e = Float(2 * i) / Float(headDim)
            return (1 / powf(Float(theta), e)) / Float(linearScaling)
        }
    }

    /// cos and sin of every angle for positions start..<start+count: two [count, E/2] tables,
    /// computed once per forward and shared by all layers.
    public func table(start: Int, count: Int, cos: inout [Float], sin: inout [Float]) {
        let half = headDim / 2
        if cos.count < count * half {
            cos = [Float](repeating: 0, count: count * half)
            sin = cos
        }
        for t in 0..<count {
            let p = Float(start + t)
            for i in 0..<half {
                let angle = p * inverseFrequencies[i]
                cos[t * half + i] = cosf(angle)
                sin[t * half + i] = sinf(angle)
            }
        }
    }

    /// Rotates `heads` consecutive head vectors of one token in place, given that
    /// token's row of the cos/sin tables.
    @inline(__always)
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int,
                      cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        let half = headDim / 2
        for h in 0..<heads {
            let v = x + h * headDim
            for i in 0..<half {
                let a = v[i], b = v[i + half]
                v[i] = a * cos[i] - b * sin[i]
                v[i + half] = b * cos[i] + a * sin[i]
            }
        }
    }

    /// Backward of `apply`, in place: turns the gradient w.r.t. the rotated vectors into the
    /// gradient w.r.t. the unrotated ones. A rotation's inverse is its transpose, i.e. the
    /// rotation by −angle: (a, b) ← (a·cos + b·sin, b·cos − a·sin). Not accumulating — it
    /// rewrites `dx`, the way `apply` rewrites `x`.
    @inline(__always)
    public func applyBackward(_ dx: UnsafeMutablePointer<Float>, heads: Int,
                              cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        let half = headDim / 2
        for h in 0..<heads {
            let v = dx + h * headDim
            for i in 0..<half {
                let a = v[i], b = v[i + half]
                v[i] = a * cos[i] + b * sin[i]
                v[i + half] = b * cos[i] - a * sin[i]
            }
        }
    }
}
