import Foundation
import Tensor

extension LlamaModel {
    /// A model of `config`'s shape with random weights, built in memory: for
    /// benchmarks of real shapes without their checkpoints. Values are small
    /// (|w| < 0.05) so activations stay finite through many layers.
    public static func random(config c: LlamaConfiguration, dtype: DType, seed: UInt64) -> LlamaModel {
        random(config: c, seed: seed) { _ in dtype }
    }

    /// As `random(config:dtype:seed:)`, each matrix stored as the type `type` gives for its
    /// GGUF name (`token_embd.weight`, `blk.N.ffn_down.weight`, `output.weight`): for mixes
    /// such as Q4_K_M.
    public static func random(config c: LlamaConfiguration, seed: UInt64, type: (String) -> DType) -> LlamaModel {
        var next = seed
        func matrix(_ rows: Int, _ cols: Int, _ name: String) -> Tensor {
            next &+= 1
            let dtype = type(name)
            // Rows that are not whole blocks stay f16, as llama.cpp's quantizer falls back.
            return Tensor.uniform([rows, cols], dtype: cols % dtype.blockSize == 0 ? dtype : .f16, seed: next)
        }
        func ones(_ n: Int) -> Tensor { Tensor([Float](repeating: 1, count: n), shape: [n]) }
        let d = c.hiddenSize, f = c.intermediateSize, qd = c.headCount * c.headDim, kvd = c.kvHeadCount * c.headDim
        let layers = (0..<c.layerCount).map { i in
            let b = "blk.\(i)."
            return LlamaLayerWeights(attentionNorm: ones(d), wq: matrix(qd, d, b + "attn_q.weight"), wk: matrix(kvd, d, b + "attn_k.weight"),
                                     wv: matrix(kvd, d, b + "attn_v.weight"), wo: matrix(d, qd, b + "attn_output.weight"),
                                     bq: nil, bk: nil, bv: nil, bo: nil, mlpNorm: ones(d),
                                     gate: matrix(f, d, b + "ffn_gate.weight"), up: matrix(f, d, b + "ffn_up.weight"),
                                     down: matrix(d, f, b + "ffn_down.weight"), bGate: nil, bUp: nil, bDown: nil)
        }
        let embed = matrix(c.vocabularySize, d, "token_embd.weight")
        let weights = LlamaWeights(embedTokens: embed, layers: layers, finalNorm: ones(d),
                                   lmHead: c.tieWordEmbeddings ? embed : matrix(c.vocabularySize, d, "output.weight"))
        return LlamaModel(config: c, weights: weights)
    }
}
