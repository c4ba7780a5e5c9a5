import Foundation
import Tensor

extension LlamaModel {
    /// A model of `config`'s shape with random weights, built in memory: for
    /// benchmarks of real shapes without their checkpoints. Values are small
    /// (|w| < 0.05) so activations stay finite through many layers.
    public static func random(config c: LlamaConfiguration, dtype: DType, seed: UInt64) -> LlamaModel {
        var next = seed
        func matrix(_ rows: Int, _ cols: Int) -> Tensor {
            next &+= 1
            return Tensor.uniform([rows, cols], dtype: dtype, seed: next)
        }
        func ones(_ n: Int) -> Tensor { Tensor([Float](repeating: 1, count: n), shape: [n]) }
        let d = c.hiddenSize, f = c.intermediateSize, qd = c.headCount * c.headDim, kvd = c.kvHeadCount * c.headDim
        let layers = (0..<c.layerCount).map { _ in
            LlamaLayerWeights(attentionNorm: ones(d), wq: matrix(qd, d), wk: matrix(kvd, d), wv: matrix(kvd, d),
                              wo: matrix(d, qd), bq: nil, bk: nil, bv: nil, bo: nil, mlpNorm: ones(d),
                              gate: matrix(f, d), up: matrix(f, d), down: matrix(d, f), bGate: nil, bUp: nil, bDown: nil)
        }
        let embed = matrix(c.vocabularySize, d)
        let weights = LlamaWeights(embedTokens: embed, layers: layers, finalNorm: ones(d),
                                   lmHead: c.tieWordEmbeddings ? embed : matrix(c.vocabularySize, d))
        return LlamaModel(config: c, weights: weights)
    }
}
