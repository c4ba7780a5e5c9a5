import Checkpoint
import Foundation
import Tensor

// Shape legend: V vocabulary, D hidden size, F MLP size, H query heads,
// G key/value heads, E head dimension.

/// Weights of one decoder block. Matrices stay in the checkpoint's dtype
/// (f32, f16 or bf16, memory-mapped); norm weights are widened to f32 at load.
public struct LlamaLayerWeights: @unchecked Sendable {
    public var attentionNorm: Tensor   // (D) f32
    public var wq: Tensor              // (H*E, D)
    public var wk: Tensor              // (G*E, D)
    public var wv: Tensor              // (G*E, D)
    public var wo: Tensor              // (D, H*E)
    public var bq, bk, bv, bo: Tensor? // attention_bias: (H*E), (G*E), (G*E), (D)
    public var mlpNorm: Tensor         // (D) f32
    public var gate: Tensor            // (F, D)
    public var up: Tensor              // (F, D)
    public var down: Tensor            // (D, F)
    public var bGate, bUp, bDown: Tensor? // mlp_bias: (F), (F), (D)

    public init(attentionNorm: Tensor, wq: Tensor, wk: Tensor, wv: Tensor, wo: Tensor,
                bq: Tensor? = nil, bk: Tensor? = nil, bv: Tensor? = nil, bo: Tensor? = nil, mlpNorm: Tensor,
                gate: Tensor, up: Tensor, down: Tensor, bGate: Tensor? = nil, bUp: Tensor? = nil, bDown: Tensor? = nil) {
        self.attentionNorm = attentionNorm
        self.wq = wq; self.wk = wk; self.wv = wv; self.wo = wo
        self.bq = bq; self.bk = bk; self.bv = bv; self.bo = bo
        self.mlpNorm = mlpNorm
        self.gate = gate; self.up = up; self.down = down
        self.bGate = bGate; self.bUp = bUp; self.bDown = bDown
    }
}

/// All weights of a LLaMA-family decoder.
public struct LlamaWeights: @unchecked Sendable {
    public var embedTokens: Tensor     // (V, D)
    public var layers: [LlamaLayerWeights]
    public var finalNorm: Tensor       // (D) f32
    public var lmHead: Tensor          // (V, D); the embedding itself when tied

    public init(embedTokens: Tensor, layers: [LlamaLayerWeights], finalNorm: Tensor, lmHead: Tensor) {
        self.embedTokens = embedTokens
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
    }
}

extension LlamaWeights {
    /// The same weights with every Q4_0 and Q4_K matrix in the layout the decode kernels read fastest
    /// on this CPU (`Tensor.interleavedForDecode`): the same values and results, faster decode.
    /// The embedding table keeps its rows as they are (it is read a row at a time), and so does
    /// a head tied to it.
    public func interleavedForDecode() -> LlamaWeights {
        var out = self
        let matrices: [WritableKeyPath<LlamaLayerWeights, Tensor>] = [\.wq, \.wk, \.wv, \.wo, \.gate, \.up, \.down]
        for i in out.layers.indices {
            for m in matrices { out.layers[i][keyPath: m] = out.layers[i][keyPath: m].interleavedForDecode() }
        }
        if lmHead.storage !== embedTokens.storage || lmHead.offset != embedTokens.offset {
            out.lmHead = lmHead.interleavedForDecode()
        }
        return out
    }
}

/// Where a checkpoint keeps the decoder's tensors. Each layout of the wild has
/// its own prefix; they are otherwise named alike.
public struct LlamaWeightLayout: Sendable, Equatable {
    /// Prefix of `embed_tokens`, `layers.N.…` and `norm` (e.g. "model.").
    public var prefix: String
    /// Full name of the output projection.
    public var lmHead: String

    /// A bare LLaMA checkpoint, and original LLaVA (which adds `model.mm_projector.*`).
    public static let llama = LlamaWeightLayout(prefix: "model.", lmHead: "lm_head.weight")
    /// llava-hf as transformers v4 saves it.
    public static let llavaHF = LlamaWeightLayout(prefix: "language_model.model.", lmHead: "language_model.lm_head.weight")
    /// llava-hf as newer transformers saves it.
    public static let llavaHFv5 = LlamaWeightLayout(prefix: "model.language_model.", lmHead: "lm_head.weight")

    /// Picks the layout whose embedding table the store holds.
    public static func detect(in store: WeightStore) -> LlamaWeightLayout? {
        [llavaHF, llavaHFv5, llama].first { store.contains($0.prefix + "embed_tokens.weight") }
    }
}

/// Names that belong to other parts of a multimodal checkpoint, or that old
/// exports carry without meaning (rotary `inv_freq` buffers are recomputed).
public func isNonDecoderWeight(_ name: String) -> Bool {
    let foreign = ["vision_tower.", "multi_modal_projector.", "model.vision_tower.",
                   "model.multi_modal_projector.", "model.mm_projector.", "model.image_newline"]
    return foreign.contains { name.hasPrefix($0) } || name.hasSuffix(".rotary_emb.inv_freq")
}

extension LlamaWeights {
    /// Loads every decoder tensor with its shape checked, and fails on any tensor
    /// that is neither used nor known to belong elsewhere.
    public init(store: WeightStore, config c: LlamaConfiguration, source: String) throws {
        let loader = WeightLoader(store: store)
        try self.init(loader: loader, config: c, source: source)
        let unused = loader.unusedNames().filter { !isNonDecoderWeight($0) }
        if !unused.isEmpty { throw ModelError.unexpectedWeights(names: unused, source: source) }
    }

    /// Takes the decoder's tensors from `loader` (shape-checked); other parts of a
    /// multimodal checkpoint take theirs from the same loader.
    public init(loader: WeightLoader, config c: LlamaConfiguration, source: String) throws {
        let store = loader.store
        guard let layout = LlamaWeightLayout.detect(in: store) else {
            let files = store.files.map(\.url.lastPathComponent).joined(separator: ", ")
            let names = [LlamaWeightLayout.llama, .llavaHF, .llavaHFv5].map { "'\($0.prefix)embed_tokens.weight'" }
            throw ModelError.missingWeight(name: names.joined(separator: " or "),
                                           source: "\(source) (\(store.tensorNames.count) tensors in \(files))")
        }
        let d = c.hiddenSize, f = c.intermediateSize, qd = c.headCount * c.headDim, kvd = c.kvHeadCount * c.headDim
        let p = layout.prefix
        func w(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t = try loader.take(name, shape: shape)
            guard t.dtype.isFloat else { throw ModelError.unsupportedWeightType(name: name, dtype: t.dtype.rawValue) }
            return t
        }
        func norm(_ name: String) throws -> Tensor { try w(name, [d]).toF32() }
        func bias(_ on: Bool, _ name: String, _ n: Int) throws -> Tensor? { on ? try w(name, [n]).toF32() : nil }

        embedTokens = try w(p + "embed_tokens.weight", [c.vocabularySize, d])
        layers = try (0..<c.layerCount).map { i in
            let l = "\(p)layers.\(i)."
            return LlamaLayerWeights(
                attentionNorm: try norm(l + "input_layernorm.weight"),
                wq: try w(l + "self_attn.q_proj.weight", [qd, d]),
                wk: try w(l + "self_attn.k_proj.weight", [kvd, d]),
                wv: try w(l + "self_attn.v_proj.weight", [kvd, d]),
                wo: try w(l + "self_attn.o_proj.weight", [d, qd]),
                bq: try bias(c.attentionBias, l + "self_attn.q_proj.bias", qd),
                bk: try bias(c.attentionBias, l + "self_attn.k_proj.bias", kvd),
                bv: try bias(c.attentionBias, l + "self_attn.v_proj.bias", kvd),
                bo: try bias(c.attentionBias, l + "self_attn.o_proj.bias", d),
                mlpNorm: try norm(l + "post_attention_layernorm.weight"),
                gate: try w(l + "mlp.gate_proj.weight", [f, d]),
                up: try w(l + "mlp.up_proj.weight", [f, d]),
                down: try w(l + "mlp.down_proj.weight", [d, f]),
                bGate: try bias(c.mlpBias, l + "mlp.gate_proj.bias", f),
                bUp: try bias(c.mlpBias, l + "mlp.up_proj.bias", f),
                bDown: try bias(c.mlpBias, l + "mlp.down_proj.bias", d))
        }
        finalNorm = try norm(p + "norm.weight")
        if c.tieWordEmbeddings {
            lmHead = embedTokens
            // Some tied exports still write the head; it must then equal the embedding's shape.
            if store.contains(layout.lmHead) { _ = try w(layout.lmHead, [c.vocabularySize, d]) }
        } else {
            lmHead = try w(layout.lmHead, [c.vocabularySize, d])
        }
        for name in store.tensorNames where name.hasSuffix(".rotary_emb.inv_freq") { loader.skip(name) }
    }
}
