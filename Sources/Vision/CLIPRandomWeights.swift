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
            return Tensor.uniform([rows, cols], dtype: type, seed: next)
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
