import Foundation
import Language
import Tensor

// Shape legend: T tokens of one sequence, D hidden, F MLP width, H query heads,
// G key/value heads, E head dimension, V vocabulary, R LoRA rank.

/// Which parts of the decoder learn.
public enum DecoderTraining: Sendable, Equatable {
    /// Frozen: gradients flow through it to the inputs only (stage 1).
    case frozen
    /// Every tensor learns: embeddings, norms, linears, head (stage 2, full).
    case full
    /// Base weights frozen; a LoRA adapter on every Linear of the blocks (stage 2, LoRA).
    case lora(rank: Int, alpha: Float, dropout: Float)
}

/// One block's layers in training.
final class TrainableBlock {
    let attentionNorm: Tensor, mlpNorm: Tensor                 // (D) f32 each
    let attentionNormParameter: Parameter?, mlpNormParameter: Parameter?
    let q, k, v, o, gate, up, down: TrainableLinear

    init(_ w: LlamaLayerWeights, prefix: String, mode: DecoderTraining, seed: inout SplitMix64) {
        let full = mode == .full
        func norm(_ t: Tensor, _ name: String) -> (Tensor, Parameter?) {
            guard full else { return (t, nil) }
            let p = Parameter(name: prefix + name, value: copyTensor(t), decays: false, lrScale: 1)
            return (p.value, p)
        }
        (attentionNorm, attentionNormParameter) = norm(w.attentionNorm, "input_layernorm.weight")
        (mlpNorm, mlpNormParameter) = norm(w.mlpNorm, "post_attention_layernorm.weight")
        func linear(_ name: String, _ weight: Tensor, _ bias: Tensor?) -> TrainableLinear {
            TrainableLinear(name: prefix + name, weight: weight, trainable: full, bias: bias, trainableBias: full)
        }
        q = linear("self_attn.q_proj", w.wq, w.bq)
        k = linear("self_attn.k_proj", w.wk, w.bk)
        v = linear("self_attn.v_proj", w.wv, w.bv)
        o = linear("self_attn.o_proj", w.wo, w.bo)
        gate = linear("mlp.gate_proj", w.gate, w.bGate)
        up = linear("mlp.up_proj", w.up, w.bUp)
        down = linear("mlp.down_proj", w.down, w.bDown)
        if case .lora(let rank, let alpha, let dropout) = mode {
            for l in linears { l.lora = makeLoRA(l, rank: rank, alpha: alpha, dropout: dropout, seed: &seed) }
        }
    }

    var linears: [TrainableLinear] { [q, k, v, o, gate, up, down] }

    var parameters: [Parameter] {
        [attentionNormParameter, mlpNormParameter].compactMap { $0 } + linears.flatMap(\.parameters)
    }
}

/// PEFT's initialisation: A ~ kaiming-uniform(a = √5) i.e. U(-1/√K, 1/√K), B = 0.
func makeLoRA(_ l: TrainableLinear, rank: Int, alpha: Float, dropout: Float, seed: inout SplitMix64) -> LoRAAdapter {
    let k = l.inFeatures, n = l.outFeatures
    let bound = 1 / Float(k).squareRoot()
    let a = Tensor.uniform([rank, k], dtype: .f32, seed: seed.next(), scale: bound)
    return LoRAAdapter(a: Parameter(name: l.name + ".lora_A.weight", value: a, decays: true, lrScale: 1),
                       b: Parameter(name: l.name + ".lora_B.weight", value: Tensor(zeros: [n, rank]), decays: true, lrScale: 1),
                       alpha: alpha, dropout: dropout)
}

/// Activations of one block kept for its backward.
final class BlockActivations {
    let xIn = ScratchBuffer(), norm1 = ScratchBuffer()         // (T, D)
    let q = ScratchBuffer(), k = ScratchBuffer(), v = ScratchBuffer()  // (T, H*E), (T, G*E) ×2, after rotary
    let probs = ScratchBuffer(), att = ScratchBuffer()         // (H, T, T), (T, H*E)
    let xMid = ScratchBuffer(), norm2 = ScratchBuffer()        // (T, D)
    let gate = ScratchBuffer(), up = ScratchBuffer(), h = ScratchBuffer()  // (T, F)
    let linears = (0..<7).map { _ in LinearSaved() }           // q k v o gate up down
}

/// A LLaMA-family decoder set up for training: forward with saved activations, then the
/// backward of each layer in reverse (llm.c's order), accumulating parameter gradients.
/// Sequences run one at a time at their true length, so no padding or attention mask is needed.
public final class TrainableDecoder {
    public let config: LlamaConfiguration
    public let mode: DecoderTraining
    let embedTokens: Tensor                       // (V, D)
    let embedParameter: Parameter?
    let blocks: [TrainableBlock]
    let finalNorm: Tensor                         // (D) f32
    let finalNormParameter: Parameter?
    let lmHead: TrainableLinear                   // (V, D)
    let rope: RotaryEmbedding

    // Saved activations and scratch, sized for the longest sequence seen.
    let acts: [BlockActivations]
    let xFinal = ScratchBuffer(), normFinal = ScratchBuffer()   // (T, D)
    let logits = ScratchBuffer()                                // (T, V)
    var cos: [Float] = [], sin: [Float] = []
    let attScratch = ScratchBuffer()
    let headSaved = LinearSaved()
    let backwardScratch = BackwardScratch()
    private var dropoutRNG: SplitMix64
    private var tokens = 0

    /// `prefix` names the tensors as the llava-hf layout does (`language_model.model.`).
    public init(weights w: LlamaWeights, config c: LlamaConfiguration, mode: DecoderTraining,
                prefix: String = "language_model.model.", headName: String = "language_model.lm_head", seed: UInt64 = 0) {
        config = c
        self.mode = mode
        let full = mode == .full
        var rng = SplitMix64(seed: seed)
        if full {
            let p = Parameter(name: prefix + "embed_tokens.weight", value: w.embedTokens.toF32(), decays: true, lrScale: 1)
            embedParameter = p
            embedTokens = p.value
            let n = Parameter(name: prefix + "norm.weight", value: copyTensor(w.finalNorm), decays: false, lrScale: 1)
            finalNormParameter = n
            finalNorm = n.value
        } else {
            embedParameter = nil
            embedTokens = w.embedTokens
            finalNormParameter = nil
            finalNorm = w.finalNorm
        }
        blocks = w.layers.enumerated().map { i, layer in
            TrainableBlock(layer, prefix: "\(prefix)layers.\(i).", mode: mode, seed: &rng)
        }
        lmHead = TrainableLinear(name: headName, weight: w.lmHead, trainable: full, bias: nil, trainableBias: false)
        rope = RotaryEmbedding(headDim: c.headDim, theta: c.ropeTheta, linearScaling: c.ropeLinearFactor)
        acts = (0..<c.layerCount).map { _ in BlockActivations() }
        dropoutRNG = SplitMix64(seed: seed ^ 0x5EED)
    }

    /// Every trainable tensor, in a stable order.
    public var parameters: [Parameter] {
        [embedParameter].compactMap { $0 } + blocks.flatMap(\.parameters)
            + [finalNormParameter].compactMap { $0 } + lmHead.parameters
    }

    /// The LoRA dropout stream, saved and restored with training checkpoints.
    public var rngState: SplitMix64 {
        get { dropoutRNG }
        set { dropoutRNG = newValue }
    }

    /// Token embeddings (T, D) of `ids` into `out`.
    public func embed(_ ids: [Int], into out: UnsafeMutablePointer<Float>) {
        let d = config.hiddenSize
        for (t, id) in ids.enumerated() {
            convertToFloat(embedTokens.rawPointer + id * embedTokens.dtype.byteCount(elements: d), dtype: embedTokens.dtype,
                           count: d, into: out + t * d)
        }
    }

    /// Scatter-adds dInputs rows of token positions into the embedding's gradient (full mode).
    public func embedBackward(_ ids: [Int], dInputs: UnsafePointer<Float>) {
        guard let p = embedParameter else { return }
        let d = config.hiddenSize
        p.grad.withUnsafeMutableBufferPointer { g in
            for (t, id) in ids.enumerated() where id >= 0 {
                let row = g.baseAddress! + id * d, src = dInputs + t * d
                for i in 0..<d { row[i] += src[i] }
            }
        }
    }

    /// Forward of one sequence from its input embeddings (T, D); returns a pointer to the
    /// logits (T, V), valid until the next forward.
    public func forward(inputs: UnsafePointer<Float>, tokens t: Int) -> UnsafePointer<Float> {
        let c = config, d = c.hiddenSize
        tokens = t
        rope.table(start: 0, count: t, cos: &cos, sin: &sin)
        var x = UnsafePointer(inputs)
        for (l, block) in blocks.enumerated() {
            let out = (l + 1 < blocks.count ? acts[l + 1].xIn : xFinal).reserve(t * d)
            blockForward(block, acts[l], x: x, out: out, tokens: t)
            x = UnsafePointer(out)
        }
        if blocks.isEmpty { xFinal.reserve(t * d).update(from: inputs, count: t * d) }
        let nf = normFinal.reserve(t * d)
        rmsNormForward(nf, xFinal.pointer, weight: finalNorm.floats, rows: t, dim: d, eps: c.rmsNormEps)
        let out = logits.reserve(t * c.vocabularySize)
        lmHead.forward(out, nf, rows: t, saved: headSaved, rng: &dropoutRNG)
        return UnsafePointer(out)
    }

    /// Backward from dLogits (T, V) of the last forward; accumulates dInputs (T, D).
    public func backward(dLogits: UnsafePointer<Float>, dInputs: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize, t = tokens, g = backwardScratch
        let dNorm = g.zeroed(10, t * d)
        lmHead.backward(dx: dNorm, dy: dLogits, x: normFinal.pointer, rows: t, saved: headSaved)
        // dx and dxIn trade places block by block.
        var dx = g.zeroed(11, t * d), dxIn = g.zeroed(12, t * d)
        withGradient(finalNormParameter) { dW in
            rmsNormBackward(dx: dx, dWeight: dW, dy: dNorm, x: xFinal.pointer, weight: finalNorm.floats,
                            rows: t, dim: c.hiddenSize, eps: c.rmsNormEps)
        }
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            dxIn.update(repeating: 0, count: t * d)
            blockBackward(blocks[l], acts[l], dxOut: dx, dxIn: dxIn, tokens: t, scratch: g)
            swap(&dx, &dxIn)
        }
        addInPlace(dInputs, dx, count: t * d)
    }
}
