import CBLAS
import Foundation
import Tensor

// Shape legend: T rows (every token of a packed batch), K input features, N output features,
// R LoRA rank.

/// Low-rank adapter on a frozen Linear (Hu et al., LoRA): y += (α/r) · B · A · dropout(x).
/// A is (R, K), B is (N, R). As PEFT does, A starts random and B at zero, so training
/// starts from the base model exactly.
public final class LoRAAdapter {
    public let a: Parameter          // (R, K)
    public let b: Parameter          // (N, R)
    public let scale: Float          // α / r
    public let dropout: Float

    public init(a: Parameter, b: Parameter, alpha: Float, dropout: Float) {
        self.a = a
        self.b = b
        scale = alpha / Float(a.value.shape[0])
        self.dropout = dropout
    }

    /// The same factors' storage with gradients of its own (a thread's shard, `ShardReplicas`).
    init(replicaOf o: LoRAAdapter) {
        a = Parameter(replicaOf: o.a)
        b = Parameter(replicaOf: o.b)
        scale = o.scale
        dropout = o.dropout
    }

    public var rank: Int { a.value.shape[0] }
}

/// What a Linear keeps from its forward for its backward (beyond its input). The dropout
/// mask is not kept: the backward draws it again from the same seeds (bit for bit the same),
/// which spares two (T, K) f32 copies per Linear.
final class LinearSaved {
    var ax = ScratchBuffer()         // (T, R) A · dropout(x)
    var dropout = DropoutDraws()     // the seeds and rows the forward's masks came from
}

/// Where a Linear's dropout masks come from: one SplitMix64 stream per sequence, seeded by the
/// sequence's seed and the Linear's tag, one draw per input element in row-major order.
struct DropoutDraws {
    private(set) var starts: [Int] = [], lengths: [Int] = [], seeds: [UInt64] = []

    /// Records `batch`'s layout (reusing the arrays' storage).
    mutating func record(_ batch: PackedSequences, tag: UInt64) {
        starts.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        seeds.removeAll(keepingCapacity: true)
        starts.append(contentsOf: batch.starts)
        lengths.append(contentsOf: batch.lengths)
        for s in batch.dropoutSeeds { seeds.append(s ^ tag) }
    }

    /// Calls `body(i, scale)` for every element i of the (rows, k) input, in order, with its
    /// dropout scale: 0 with probability p, else 1/(1-p).
    @inline(__always)
    func forEach(k: Int, p: Float, _ body: (Int, Float) -> Void) {
        let keep = 1 / (1 - p)
        for s in seeds.indices {
            var rng = SplitMix64(seed: seeds[s])
            for i in (starts[s] * k)..<((starts[s] + lengths[s]) * k) {
                body(i, Float(rng.nextUnit()) < p ? 0 : keep)
            }
        }
    }
}

/// Transient buffers of a Linear's forward and backward. One workspace serves every Linear of
/// a model (they never run at once), so a 7B model does not hold 224 copies.
final class LinearWorkspace {
    let widened = ScratchBuffer()    // a block of half-precision weight rows widened to f32
    let du = ScratchBuffer()         // (T, R)
    /// (T, K) dropout(x), drawn in the forward and again in the backward; once dA has read it,
    /// the backward reuses it for the gradient of dropout(x) before the mask.
    let dropped = ScratchBuffer()
}

/// A Linear layer in training: its weight either a trainable `Parameter` or frozen (any dtype,
/// possibly memory-mapped), an optional bias, an optional LoRA adapter.
public final class TrainableLinear {
    public let name: String
    public let weight: Tensor              // (N, K): the parameter's own tensor when trainable
    public let weightParameter: Parameter?
    public let bias: Tensor?               // (N) f32
    public let biasParameter: Parameter?
    public var lora: LoRAAdapter?
    var workspace = LinearWorkspace()
    /// Mixed into each sequence's dropout seed, so every Linear draws its own masks.
    let dropoutTag: UInt64

    public init(name: String, weight: Tensor, trainable: Bool, bias: Tensor?, trainableBias: Bool, lrScale: Float = 1) {
        self.name = name
        dropoutTag = fnv1a(name)
        if trainable {
            let p = Parameter(name: name + ".weight", value: weight.dtype == .f32 ? copyTensor(weight) : weight.toF32(),
                              decays: true, lrScale: lrScale)
            weightParameter = p
            self.weight = p.value
        } else {
            weightParameter = nil
            self.weight = weight
        }
        if let bias, trainableBias {
            let p = Parameter(name: name + ".bias", value: copyTensor(bias.toF32()), decays: false, lrScale: lrScale)
            biasParameter = p
            self.bias = p.value
        } else {
            biasParameter = nil
            self.bias = bias?.toF32()
        }
    }

    /// A replica for another thread's shard of a batch (`ShardReplicas`): the same weight and
    /// bias storage (the optimizer's in-place steps reach both), its own gradients, workspace
    /// and saved activations.
    init(replicaOf o: TrainableLinear) {
        name = o.name
        dropoutTag = o.dropoutTag
        weight = o.weight
        weightParameter = o.weightParameter.map(Parameter.init(replicaOf:))
        bias = o.bias
        biasParameter = o.biasParameter.map(Parameter.init(replicaOf:))
        lora = o.lora.map(LoRAAdapter.init(replicaOf:))
    }

    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }

    /// The trainable tensors of this layer.
    public var parameters: [Parameter] {
        [weightParameter, biasParameter, lora?.a, lora?.b].compactMap { $0 }
    }

    /// y (T, N) = x (T, K) · Wᵀ + b (+ LoRA), one GEMM over all rows. A LoRA dropout mask is
    /// drawn per sequence of `batch` from that sequence's seed, so it does not depend on which
    /// sequences share the batch (or the rank).
    func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows t: Int,
                 saved: LinearSaved, batch: PackedSequences) {
        linearForward(y, x, weight: weight, bias: bias, rows: t, scratch: workspace.widened)
        guard let lora else { return }
        let k = inFeatures
        var input = x
        if lora.dropout > 0 {
            precondition(batch.rows == t, "dropout needs the packed batch layout (\(batch.rows) rows, got \(t))")
            saved.dropout.record(batch, tag: dropoutTag)
            input = UnsafePointer(drop(x, lora, saved, rows: t))
        }
        loraForward(lora, y, input, rows: t, saved: saved)
    }

    /// The same for a batch without dropout (CLIP, the projector): every row one sequence.
    func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows t: Int,
                 saved: LinearSaved, rng: inout SplitMix64) {
        precondition(lora == nil || lora!.dropout == 0, "LoRA dropout needs the packed-batch forward")
        forward(y, x, rows: t, saved: saved, batch: .empty)
    }

    /// dropout(x) (T, K) into the shared workspace, from the masks `saved` records.
    private func drop(_ x: UnsafePointer<Float>, _ lora: LoRAAdapter, _ saved: LinearSaved,
                      rows t: Int) -> UnsafeMutablePointer<Float> {
        let dropped = workspace.dropped.reserve(t * inFeatures)
        saved.dropout.forEach(k: inFeatures, p: lora.dropout) { i, scale in dropped[i] = x[i] * scale }
        return dropped
    }

    /// y += s · (A x̃) · Bᵀ, both products as GEMMs accumulating into y.
    private func loraForward(_ lora: LoRAAdapter, _ y: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
                             rows t: Int, saved: LinearSaved) {
        let k = inFeatures, r = lora.rank, n = outFeatures
        let ax = saved.ax.reserve(t * r)
        gemm(.noTrans, .trans, m: t, n: r, k: k, alpha: 1, input, k, lora.a.value.floats, k, beta: 0, ax, r)
        gemm(.noTrans, .trans, m: t, n: n, k: r, alpha: lora.scale, ax, r, lora.b.value.floats, r, beta: 1, y, n)
    }

    /// Accumulates dx (if asked) and the gradients of whatever is trainable here. With
    /// `overwrite`, dx is written instead (its old values ignored), which spares the caller
    /// zeroing it first.
    func backward(dx: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows t: Int,
                  saved: LinearSaved, overwrite: Bool = false) {
        var dxBase = dx
        if let dx, overwrite {
            if weight.dtype == .f32 {
                // dx[T, K] = dy[T, N] · W[N, K]
                gemm(.noTrans, .noTrans, m: t, n: inFeatures, k: outFeatures, alpha: 1, dy, outFeatures,
                     weight.floats, inFeatures, beta: 0, dx, inFeatures)
                dxBase = nil
            } else {
                dx.update(repeating: 0, count: t * inFeatures)
            }
        }
        withGradient(weightParameter) { dW in
            withGradient(biasParameter) { dB in
                linearBackward(dx: dxBase, dWeight: dW, dBias: dB, dy: dy, x: x, weight: weight, rows: t,
                               scratch: workspace.widened)
            }
        }
        guard let lora else { return }
        let k = inFeatures, r = lora.rank, n = outFeatures, s = lora.scale
        // With u = A·x̃ and y += s·B·u: dB += s·dyᵀ·u, du = s·dy·B, dA += duᵀ·x̃, dx̃ = du·A.
        let input = lora.dropout > 0 ? UnsafePointer(drop(x, lora, saved, rows: t)) : x
        let du = workspace.du.reserve(t * r)
        withGradient(lora.b) { dB in
            gemm(.trans, .noTrans, m: n, n: r, k: t, alpha: s, dy, n, saved.ax.pointer, r, beta: 1, dB!, r)
        }
        gemm(.noTrans, .noTrans, m: t, n: r, k: n, alpha: s, dy, n, lora.b.value.floats, r, beta: 0, du, r)
        withGradient(lora.a) { dA in
            gemm(.trans, .noTrans, m: r, n: k, k: t, alpha: 1, du, r, input, k, beta: 1, dA!, k)
        }
        guard let dx else { return }
        if lora.dropout > 0 {
            let dInput = workspace.dropped.reserve(t * k)  // x̃ is no longer needed
            gemm(.noTrans, .noTrans, m: t, n: k, k: r, alpha: 1, du, r, lora.a.value.floats, k, beta: 0, dInput, k)
            saved.dropout.forEach(k: k, p: lora.dropout) { i, scale in dx[i] += dInput[i] * scale }
        } else {
            gemm(.noTrans, .noTrans, m: t, n: k, k: r, alpha: 1, du, r, lora.a.value.floats, k, beta: 1, dx, k)
        }
    }
}

/// Runs `body` with the parameter's gradient buffer, or nil when there is no parameter.
@inline(__always)
func withGradient(_ p: Parameter?, _ body: (UnsafeMutablePointer<Float>?) -> Void) {
    guard let p else { return body(nil) }
    p.grad.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// An owned f32 copy (training must not write into a memory-mapped checkpoint).
func copyTensor(_ t: Tensor) -> Tensor {
    let out = Tensor(zeros: t.shape, dtype: t.dtype)
    out.rawPointer.copyMemory(from: t.rawPointer, byteCount: t.byteCount)
    return out
}

/// FNV-1a of a name: a stable 64-bit tag (Swift's `hashValue` changes from run to run).
func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
