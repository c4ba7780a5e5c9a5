/// Small, fast, seedable generator (Steele et al.'s SplitMix64): the same seed gives the
/// same stream on every machine, for sampling, shuffling and random weights.
public struct SplitMix64: RandomNumberGenerator, Sendable, Codable, Equatable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

extension Tensor {
    /// Values uniform in (-scale, scale), stored as `dtype`: random weights of a real
    /// model's shape for benchmarks. Filled in parallel, one SplitMix64 stream per
    /// 64K-element block, so the result depends only on the seed.
    public static func uniform(_ shape: [Int], dtype: DType, seed: UInt64, scale: Float = 0.05) -> Tensor {
        let t = Tensor(zeros: shape, dtype: dtype)
        let n = t.count, chunk = 1 << 16
        let base = t.rawPointer
        parallelFor((n + chunk - 1) / chunk) { blocks in
            var buffer = [Float](repeating: 0, count: chunk)
            for b in blocks {
                var rng = SplitMix64(seed: seed &* 1_000_003 &+ UInt64(b))
                let lo = b * chunk, count = min(chunk, n - lo)
                for i in 0..<count {
                    buffer[i] = Float(Int32(truncatingIfNeeded: rng.next() >> 32)) * (scale / 2_147_483_648)
                }
                convertFromFloat(buffer, count: count, to: dtype, into: base + dtype.byteCount(elements: lo))
            }
        }
        return t
    }
}
