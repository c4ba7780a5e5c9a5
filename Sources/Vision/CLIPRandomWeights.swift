import Tensor

extension CLIPVisionModel {
    /// A tower of `config`'s shape with random weights, built in memory: for benchmarks of
    /// real shapes (`llava bench --preset llava-1.5-7b` uses ``CLIPVisionConfiguration/vitL14_336``)
    /// without their checkpoints. Matrices are uniform in (-0.05, 0.05) in `dtype`; norms are
    /// identity; biases zero; embeddings uniform f32. The same seed gives the same weights.
    ///
    /// ```swift
    /// let tower = CLIPVisionModel.random(config: .vitL14_336, dtype: .f16, seed: 1)
    /// ```
    public static func random(config c: CLIPVisionConfiguration, dtype: DType, seed: UInt64) -> CLIPVisionModel {
        var next = seed
        func matrix(_ rows: Int, _ cols: Int, _ type: DType = dtype) -> Tensor {
            next &+= 1
            return uniformTensor([rows, cols], dtype: type, seed: next)
        }
        func constant(_ n: Int, _ value: Float) -> Tensor { Tensor([Float](repeating: value, count: n), shape: [n]) }
        let d = c.hiddenSize, f = c.intermediateSize
        let layers = (0..<c.layerCount).map { _ in
            CLIPLayerWeights(norm1Weight: constant(d, 1), norm1Bias: constant(d, 0),
                             wq: matrix(d, d), wk: matrix(d, d), wv: matrix(d, d),
                             bq: constant(d, 0), bk: constant(d, 0), bv: constant(d, 0),
                             wo: matrix(d, d), bo: constant(d, 0),
                             norm2Weight: constant(d, 1), norm2Bias: constant(d, 0),
                             fc1: matrix(f, d), bFc1: constant(f, 0), fc2: matrix(d, f), bFc2: constant(d, 0))
        }
        let weights = CLIPVisionWeights(
            patchEmbedding: matrix(d, c.channelCount * c.patchSize * c.patchSize),
            classEmbedding: matrix(1, d, .f32).reshaped([d]),
            positionEmbedding: matrix(c.positionCount, d, .f32),
            preNormWeight: constant(d, 1), preNormBias: constant(d, 0), layers: layers,
            postNormWeight: constant(d, 1), postNormBias: constant(d, 0))
        return CLIPVisionModel(config: c, weights: weights)
    }
}

/// Uniform values in (-0.05, 0.05) of `dtype` (SplitMix64 per 64K-element block, filled in parallel).
private func uniformTensor(_ shape: [Int], dtype: DType, seed: UInt64) -> Tensor {
    let t = Tensor(zeros: shape, dtype: dtype)
    let n = t.count, chunk = 1 << 16
    let base = t.rawPointer
    parallelFor((n + chunk - 1) / chunk) { blocks in
        var buffer = [Float](repeating: 0, count: chunk)
        for b in blocks {
            var state = seed &* 1_000_003 &+ UInt64(b)
            let lo = b * chunk, count = min(chunk, n - lo)
            for i in 0..<count {
                // SplitMix64 (Steele et al.): a full-period 64-bit generator, one add and two multiplies per draw.
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                buffer[i] = Float(Int32(truncatingIfNeeded: z >> 32)) * (0.05 / 2_147_483_648)
            }
            buffer.withUnsafeBufferPointer { convertFromFloat($0.baseAddress!, count: count, to: dtype, into: base + lo * dtype.size) }
        }
    }
    return t
}
