import Checkpoint
import Foundation
import Tensor

/// Writing a LLaMA-family decoder as llama.cpp's converter does: `llama.*` metadata,
/// `token_embd` / `blk.N.*` / `output` tensors, the Q/K rows of each head interleaved for
/// llama.cpp's rotation, norms in F32 and matrices in the chosen type.
extension LlamaModel {
    public func addGGUF(to writer: inout GGUFWriter, type: LlamaFileType) {
        let c = config
        for (key, value) in [("llama.context_length", c.maxPositionEmbeddings), ("llama.embedding_length", c.hiddenSize),
                             ("llama.block_count", c.layerCount), ("llama.feed_forward_length", c.intermediateSize),
                             ("llama.rope.dimension_count", c.headDim), ("llama.attention.head_count", c.headCount),
                             ("llama.attention.head_count_kv", c.kvHeadCount), ("llama.vocab_size", c.vocabularySize)] {
            writer.add(key, .unsigned(UInt64(value)))
        }
        writer.add("llama.attention.layer_norm_rms_epsilon", .float(Double(c.rmsNormEps)))
        writer.add("llama.rope.freq_base", .float(c.ropeTheta))
        if c.ropeLinearFactor != 1 {
            writer.add("llama.rope.scaling.type", .string("linear"))
            writer.add("llama.rope.scaling.factor", .float(c.ropeLinearFactor))
        }
        writer.add("general.file_type", .unsigned(UInt64(type.number)))
        let w = weights
        func matrix(_ name: String, _ t: Tensor) {
            writer.add(tensor: name, t, as: Self.storedType(t, type.type(of: name, layerCount: c.layerCount)))
        }
        matrix("token_embd.weight", w.embedTokens)
        for (i, l) in w.layers.enumerated() {
            let b = "blk.\(i)."
            writer.add(tensor: b + "attn_norm.weight", l.attentionNorm, as: .f32)
            matrix(b + "attn_q.weight", interleaveHeads(l.wq, heads: c.headCount))
            matrix(b + "attn_k.weight", interleaveHeads(l.wk, heads: c.kvHeadCount))
            matrix(b + "attn_v.weight", l.wv)
            matrix(b + "attn_output.weight", l.wo)
            writer.add(tensor: b + "ffn_norm.weight", l.mlpNorm, as: .f32)
            matrix(b + "ffn_gate.weight", l.gate)
            matrix(b + "ffn_up.weight", l.up)
            matrix(b + "ffn_down.weight", l.down)
        }
        writer.add(tensor: "output_norm.weight", w.finalNorm, as: .f32)
        if !c.tieWordEmbeddings { matrix("output.weight", w.lmHead) }
    }

    /// Block types need rows of whole blocks; other matrices keep F16 (as llama.cpp's quantizer falls back).
    public static func storedType(_ t: Tensor, _ type: GGMLType) -> GGMLType {
        type.isQuantized && (t.shape.last ?? 0) % type.blockSize != 0 ? .f16 : type
    }
}
