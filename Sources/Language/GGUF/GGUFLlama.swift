import Checkpoint
import Foundation
import Tensor
import Tokenizer

// Shape legend: V vocabulary, D hidden size, F MLP size, H query heads, G key/value heads,
// E head dimension, K a weight's input width.

/// Reads a LLaMA-family decoder from a GGUF file written by llama.cpp's converters.
///
/// Tensors are named `token_embd`, `blk.N.attn_q`, … and the Q/K rows of each head are stored
/// interleaved (llama.cpp rotates adjacent pairs; HF rotates the two halves), so they are put
/// back in HF order here and the model runs the same code as a safetensors checkpoint.
/// Quantised weights are expanded when loaded (f32, or f16 for models over `f32Limit` bytes);
/// F16/BF16/F32 matrices that need no reordering stay views into the mapping.
///
/// ```swift
/// let file = try GGUFFile(url: URL(fileURLWithPath: "llava-v1.5-7b-Q4_K_M.gguf"))
/// let model = try LlamaModel(gguf: file)
/// let tokenizer = try Tokenizer(gguf: file)
/// ```
extension LlamaModel {
    public convenience init(gguf file: GGUFFile, f32Limit: Int = 4 << 30) throws {
        let config = try LlamaConfiguration(gguf: file)
        try self.init(config: config, weights: LlamaWeights(gguf: file, config: config, f32Limit: f32Limit))
    }
}

extension LlamaConfiguration {
    /// The `llama.*` hyper-parameters and the tokenizer's special ids of a GGUF file.
    public init(gguf file: GGUFFile) throws {
        let m = GGUFMetadata(file)
        let arch = try m.string("general.architecture")
        guard arch == "llama" else {
            throw GGUFError.invalidMetadata(file: file.url.path, key: "general.architecture",
                                            reason: "'\(arch)' is not a LLaMA-family decoder (llama)")
        }
        let hidden = try m.int("llama.embedding_length"), heads = try m.int("llama.attention.head_count")
        let vocab = try m.optionalInt("llama.vocab_size") ?? (try m.array("tokenizer.ggml.tokens").count)
        self.init(vocabularySize: vocab, hiddenSize: hidden,
                  intermediateSize: try m.int("llama.feed_forward_length"),
                  layerCount: try m.int("llama.block_count"), headCount: heads,
                  kvHeadCount: try m.optionalInt("llama.attention.head_count_kv") ?? heads,
                  headDim: try m.optionalInt("llama.rope.dimension_count") ?? hidden / max(1, heads),
                  rmsNormEps: Float(try m.double("llama.attention.layer_norm_rms_epsilon")),
                  ropeTheta: try m.optionalDouble("llama.rope.freq_base") ?? 10000,
                  ropeLinearFactor: try Self.linearScaling(m),
                  maxPositionEmbeddings: try m.optionalInt("llama.context_length") ?? 2048,
                  tieWordEmbeddings: file.info("output.weight") == nil,
                  bosTokenID: try m.optionalInt("tokenizer.ggml.bos_token_id"),
                  eosTokenIDs: (try m.optionalInt("tokenizer.ggml.eos_token_id")).map { [$0] } ?? [],
                  padTokenID: try m.optionalInt("tokenizer.ggml.padding_token_id"))
        guard hidden > 0, heads > 0, hidden % heads == 0 || file.metadata["llama.rope.dimension_count"] != nil else {
            throw GGUFError.invalidMetadata(file: file.url.path, key: "llama.attention.head_count",
                                            reason: "\(heads) heads do not divide embedding_length \(hidden)")
        }
    }

    private static func linearScaling(_ m: GGUFMetadata) throws -> Double {
        guard let type = try m.optionalString("llama.rope.scaling.type"), type != "none" else { return 1 }
        guard type == "linear", let factor = try m.optionalDouble("llama.rope.scaling.factor"), factor > 0 else {
            throw GGUFError.invalidMetadata(file: m.file.url.path, key: "llama.rope.scaling.type",
                                            reason: "rope scaling '\(type)' is not supported (linear with a positive factor)")
        }
        return factor
    }
}

extension LlamaWeights {
    /// Every decoder tensor of a GGUF file, shape-checked, in HF order; unknown tensors are an error.
    public init(gguf file: GGUFFile, config c: LlamaConfiguration, f32Limit: Int = 4 << 30) throws {
        let reader = GGUFTensorReader(file: file, f32Limit: f32Limit)
        let d = c.hiddenSize, f = c.intermediateSize, qd = c.headCount * c.headDim, kvd = c.kvHeadCount * c.headDim
        embedTokens = try reader.matrix("token_embd.weight", [c.vocabularySize, d])
        layers = try (0..<c.layerCount).map { i in
            let b = "blk.\(i)."
            return LlamaLayerWeights(
                attentionNorm: try reader.vector(b + "attn_norm.weight", d),
                // Their rows are reordered into copies; interleaved for decode at once (where this CPU
                // wants it), so that no layer's copy outlives its layer: 7B Q4_0 peak -0.6 GB.
                wq: try reader.matrix(b + "attn_q.weight", [qd, d], interleavedHeads: c.headCount).interleavedForDecode(),
                wk: try reader.matrix(b + "attn_k.weight", [kvd, d], interleavedHeads: c.kvHeadCount).interleavedForDecode(),
                wv: try reader.matrix(b + "attn_v.weight", [kvd, d]),
                wo: try reader.matrix(b + "attn_output.weight", [d, qd]),
                mlpNorm: try reader.vector(b + "ffn_norm.weight", d),
                gate: try reader.matrix(b + "ffn_gate.weight", [f, d]),
                up: try reader.matrix(b + "ffn_up.weight", [f, d]),
                down: try reader.matrix(b + "ffn_down.weight", [d, f]))
        }
        finalNorm = try reader.vector("output_norm.weight", d)
        lmHead = c.tieWordEmbeddings ? embedTokens : try reader.matrix("output.weight", [c.vocabularySize, d])
        // rope_freqs appears in some llama-3 files; this decoder computes its own frequencies.
        let unused = reader.untaken.filter { $0 != "rope_freqs.weight" }
        guard unused.isEmpty else { throw ModelError.unexpectedWeights(names: unused, source: file.url.path) }
    }
}

