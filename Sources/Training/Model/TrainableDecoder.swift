import Foundation
import Language
import Tensor

// Shape legend: R rows = all tokens of a packed batch (sequences end to end), T_s tokens of
// sequence s, D hidden, F MLP width, H query heads, G key/value heads, E head dimension,
// V vocabulary, C rows of one logits chunk.

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
            // A frozen half-precision norm is widened (D values): the kernels read f32 norms.
            guard full else { return (t.dtype == .f32 ? t : t.toF32(), nil) }
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

    /// The same weights with gradients of its own (a thread's shard, `ShardReplicas`).
    init(replicaOf b: TrainableBlock) {
        (attentionNorm, mlpNorm) = (b.attentionNorm, b.mlpNorm)
        attentionNormParameter = b.attentionNormParameter.map(Parameter.init(replicaOf:))
        mlpNormParameter = b.mlpNormParameter.map(Parameter.init(replicaOf:))
        q = TrainableLinear(replicaOf: b.q)
        k = TrainableLinear(replicaOf: b.k)
        v = TrainableLinear(replicaOf: b.v)
        o = TrainableLinear(replicaOf: b.o)
        gate = TrainableLinear(replicaOf: b.gate)
        up = TrainableLinear(replicaOf: b.up)
        down = TrainableLinear(replicaOf: b.down)
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

/// Activations of one block kept for its backward (its input is the decoder's `layerInputs`).
final class BlockActivations {
    let norm1 = ScratchBuffer()                                // (R, D)
    let q = ScratchBuffer(), k = ScratchBuffer(), v = ScratchBuffer()  // (R, H*E), (R, G*E) ×2, after rotary
    let probs = ScratchBuffer(), att = ScratchBuffer()         // Σ_s (H, T_s, T_s), (R, H*E)
    let xMid = ScratchBuffer(), norm2 = ScratchBuffer()        // (R, D)
    let gate = ScratchBuffer(), up = ScratchBuffer()          // (R, F); h = swiglu(gate, up) is made again
    let linears = (0..<7).map { _ in LinearSaved() }           // q k v o gate up down
}

/// A LLaMA-family decoder set up for training: forward with saved activations, then the
/// backward of each layer in reverse (llm.c's order), accumulating parameter gradients.
///
/// A batch is packed: its sequences lie end to end as the rows of one matrix, each at its true
/// length, so every Linear is one GEMM over all tokens of the batch while attention (and the
/// rotary positions) stay within each sequence; no padding or attention mask is needed.
/// With `gradientCheckpointing`, only each block's input is kept and the block's activations
/// are recomputed in the backward pass (one block's worth of memory instead of all of them),
/// and attention keeps no (H, T, T) probabilities: the backward computes each head's again.
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
    /// Recompute each block's activations in the backward pass instead of keeping them.
    public var gradientCheckpointing = false {
        didSet { if gradientCheckpointing != oldValue { acts = TrainableDecoder.activations(config, gradientCheckpointing) } }
    }

    // Saved activations and scratch, grown to the largest batch seen and reused.
    var acts: [BlockActivations]                  // one per block, or one shared when checkpointing
    let layerInputs: [ScratchBuffer]              // L + 1 of (R, D): block inputs, then the final hidden
    let normFinal = ScratchBuffer()               // (R, D)
    let logitsChunk = ScratchBuffer()             // (C, V) logits, then their gradient
    let recomputed = ScratchBuffer()              // (R, D): a recomputed block's output (discarded)
    var cos: [Float] = [], sin: [Float] = []      // (longest T, E/2)
    let attScratch = ScratchBuffer()
    let headSaved = LinearSaved()
    let backwardScratch = BackwardScratch()
    var batch = PackedSequences()
    private var dropoutRNG: SplitMix64

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
            finalNorm = w.finalNorm.dtype == .f32 ? w.finalNorm : w.finalNorm.toF32()
        }
        blocks = w.layers.enumerated().map { i, layer in
            TrainableBlock(layer, prefix: "\(prefix)layers.\(i).", mode: mode, seed: &rng)
        }
        lmHead = TrainableLinear(name: headName, weight: w.lmHead, trainable: full, bias: nil, trainableBias: false)
        rope = RotaryEmbedding(headDim: c.headDim, theta: c.ropeTheta, linearScaling: c.ropeLinearFactor)
        acts = TrainableDecoder.activations(c, false)
        layerInputs = (0...c.layerCount).map { _ in ScratchBuffer() }
        dropoutRNG = SplitMix64(seed: seed ^ 0x5EED)
        // Linears never run at once: one workspace serves them all.
        let workspace = LinearWorkspace()
        for l in blocks.flatMap(\.linears) + [lmHead] { l.workspace = workspace }
    }

    /// A replica for another thread's shard of a batch (`ShardReplicas`): the same weights
    /// (optimizer steps in place reach both), its own gradients, activations and scratch.
    /// Its `parameters` pair one to one, in order, with the original's.
    init(replicaOf o: TrainableDecoder) {
        config = o.config
        mode = o.mode
        embedTokens = o.embedTokens
        embedParameter = o.embedParameter.map(Parameter.init(replicaOf:))
        blocks = o.blocks.map(TrainableBlock.init(replicaOf:))
        finalNorm = o.finalNorm
        finalNormParameter = o.finalNormParameter.map(Parameter.init(replicaOf:))
        lmHead = TrainableLinear(replicaOf: o.lmHead)
        rope = o.rope
        gradientCheckpointing = o.gradientCheckpointing
        acts = TrainableDecoder.activations(o.config, o.gradientCheckpointing)
        layerInputs = (0...o.config.layerCount).map { _ in ScratchBuffer() }
        dropoutRNG = o.dropoutRNG
        let workspace = LinearWorkspace()
        for l in blocks.flatMap(\.linears) + [lmHead] { l.workspace = workspace }
    }

    private static func activations(_ c: LlamaConfiguration, _ checkpointing: Bool) -> [BlockActivations] {
        (0..<(checkpointing ? min(1, c.layerCount) : c.layerCount)).map { _ in BlockActivations() }
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

    /// Token embeddings (T, D) of `ids` into `out`; ids below 0 (image rows) are skipped.
    public func embed(_ ids: [Int], into out: UnsafeMutablePointer<Float>) {
        let d = config.hiddenSize
        for (t, id) in ids.enumerated() where id >= 0 {
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

    /// One dropout seed per sequence of the next packed batch, from the saved stream: one draw
    /// per call whatever the batch, so every rank of a data-parallel run stays in step, and
    /// sequence `first + i` of the global batch gets the same masks on any rank.
    public func dropoutSeeds(count: Int, first: Int = 0) -> [UInt64] {
        let base = dropoutRNG.next()
        return (0..<count).map { i in
            var mix = SplitMix64(seed: base &+ UInt64(first + i) &* 0x9E37_79B9_7F4A_7C15)
            return mix.next()
        }
    }

    /// Forward of a packed batch from its input embeddings (R, D), sequences of `lengths`
    /// end to end; keeps what `lossBackward` needs.
    public func forward(inputs: UnsafePointer<Float>, lengths: [Int], dropoutSeeds: [UInt64]? = nil) {
        let c = config, d = c.hiddenSize
        batch.set(lengths: lengths, heads: c.headCount, dropoutSeeds: dropoutSeeds ?? lengths.map { _ in 0 })
        let r = batch.rows
        rope.table(start: 0, count: batch.longest, cos: &cos, sin: &sin)
        layerInputs[0].reserve(r * d).update(from: inputs, count: r * d)
        for (l, block) in blocks.enumerated() {
            let out = layerInputs[l + 1].reserve(r * d)
            blockForward(block, acts[gradientCheckpointing ? 0 : l], x: layerInputs[l].pointer, out: out)
        }
        let nf = normFinal.reserve(r * d)
        rmsNormForward(nf, layerInputs[blocks.count].pointer, weight: finalNorm.floats, rows: r, dim: d, eps: c.rmsNormEps)
    }

    /// Rows of logits computed at once: the (R, V) logits of a long batch never exist whole.
    var logitsChunkRows: Int { max(64, (16 << 20) / max(1, config.vocabularySize)) }

    /// Cross-entropy of the last forward against `targets` (R; -100 ignored), then the whole
    /// backward: parameter gradients accumulate, scaled by `scale`, and dInputs (R, D)
    /// accumulates. The head and loss run a chunk of rows at a time. Returns the summed loss
    /// and the number of counted rows.
    public func lossBackward(targets: UnsafePointer<Int32>, scale: Float,
                             dInputs: UnsafeMutablePointer<Float>) -> (lossSum: Double, count: Int) {
        let c = config, d = c.hiddenSize, v = c.vocabularySize, r = batch.rows, g = backwardScratch
        let dNorm = g.buffer(10, r * d)
        var lossSum = 0.0, counted = 0
        var r0 = 0
        while r0 < r {
            let n = min(logitsChunkRows, r - r0)
            let logits = logitsChunk.reserve(n * v)
            lmHead.forward(logits, normFinal.pointer + r0 * d, rows: n, saved: headSaved, batch: .empty)
            // The gradient overwrites the logits: one (C, V) buffer instead of two.
            let (sum, count) = crossEntropyForwardBackwardInPlace(logits: logits, targets: targets + r0, rows: n,
                                                                  vocabulary: v, scale: scale)
            let dLogits = logits
            lossSum += sum
            counted += count
            lmHead.backward(dx: dNorm + r0 * d, dy: dLogits, x: normFinal.pointer + r0 * d, rows: n, saved: headSaved,
                            overwrite: true)
            r0 += n
        }
        backward(dNorm: dNorm, dInputs: dInputs)
        return (lossSum, counted)
    }

    /// Backward from dNorm (R, D), the gradient at the final norm's output.
    private func backward(dNorm: UnsafePointer<Float>, dInputs: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize, r = batch.rows, g = backwardScratch
        // dx and dxIn trade places block by block.
        var dx = g.zeroed(11, r * d), dxIn = g.buffer(12, r * d)
        withGradient(finalNormParameter) { dW in
            rmsNormBackward(dx: dx, dWeight: dW, dy: dNorm, x: layerInputs[blocks.count].pointer, weight: finalNorm.floats,
                            rows: r, dim: d, eps: c.rmsNormEps)
        }
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            let a = acts[gradientCheckpointing ? 0 : l], x = layerInputs[l].pointer
            if gradientCheckpointing { blockForward(blocks[l], a, x: x, out: recomputed.reserve(r * d)) }
            blockBackward(blocks[l], a, x: x, dxOut: dx, dxIn: dxIn, scratch: g)
            swap(&dx, &dxIn)
        }
        addInPlace(dInputs, dx, count: r * d)
    }
}
