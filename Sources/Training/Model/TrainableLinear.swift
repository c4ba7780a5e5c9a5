import Foundation
import Tensor

// Shape legend: T rows, K input features, N output features, R LoRA rank.

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

    public var rank: Int { a.value.shape[0] }
}

/// What a Linear keeps from its forward for its backward (beyond its input).
final class LinearSaved {
    var ax = ScratchBuffer()         // (T, R) A · dropout(x)
    var mask = ScratchBuffer()       // (T, K) dropout scale per input element (0 or 1/(1-p))
    var dropped = ScratchBuffer()    // (T, K) dropout(x)
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
    let scratch = ScratchBuffer()

    public init(name: String, weight: Tensor, trainable: Bool, bias: Tensor?, trainableBias: Bool, lrScale: Float = 1) {
        self.name = name
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

    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }

    /// The trainable tensors of this layer.
    public var parameters: [Parameter] {
        [weightParameter, biasParameter, lora?.a, lora?.b].compactMap { $0 }
    }

    /// y (T, N) = x (T, K) · Wᵀ + b (+ LoRA). `rng` draws the LoRA dropout mask.
    func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows t: Int,
                 saved: LinearSaved, rng: inout SplitMix64) {
        linearForward(y, x, weight: weight, bias: bias, rows: t, scratch: scratch)
        guard let lora else { return }
        let k = inFeatures, r = lora.rank, n = outFeatures
        var input = x
        if lora.dropout > 0 {
            let mask = saved.mask.reserve(t * k), dropped = saved.dropped.reserve(t * k)
            let keep = 1 / (1 - lora.dropout)
            for i in 0..<(t * k) {
                mask[i] = Float(rng.nextUnit()) < lora.dropout ? 0 : keep
                dropped[i] = x[i] * mask[i]
            }
            input = UnsafePointer(dropped)
        }
        let ax = saved.ax.reserve(t * r)
        linearForward(ax, input, weight: lora.a.value, rows: t, scratch: scratch)
        // y += scale · (A x) · Bᵀ
        let bx = [Float](unsafeUninitializedCapacity: t * n) { buf, count in
            linearForward(buf.baseAddress!, ax, weight: lora.b.value, rows: t, scratch: scratch)
            count = t * n
        }
        for i in 0..<(t * n) { y[i] += lora.scale * bx[i] }
    }

    /// Accumulates dx (if asked) and the gradients of whatever is trainable here.
    func backward(dx: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows t: Int,
                  saved: LinearSaved) {
        withGradient(weightParameter) { dW in
            withGradient(biasParameter) { dB in
                linearBackward(dx: dx, dWeight: dW, dBias: dB, dy: dy, x: x, weight: weight, rows: t, scratch: scratch)
            }
        }
        guard let lora else { return }
        let k = inFeatures, r = lora.rank, n = outFeatures
        // With u = A·x̃ and y += s·B·u: dB += s·dyᵀ·u, du = s·dy·B, dA += duᵀ·x̃, dx̃ = du·A.
        var scaledDy = [Float](repeating: 0, count: t * n)
        for i in 0..<(t * n) { scaledDy[i] = lora.scale * dy[i] }
        var du = [Float](repeating: 0, count: t * r)
        let input = lora.dropout > 0 ? UnsafePointer(saved.dropped.pointer) : x
        scaledDy.withUnsafeBufferPointer { sdy in
            lora.b.grad.withUnsafeMutableBufferPointer { dB in
                linearBackward(dx: &du, dWeight: dB.baseAddress!, dBias: nil, dy: sdy.baseAddress!, x: saved.ax.pointer,
                               weight: lora.b.value, rows: t, scratch: scratch)
            }
        }
        var dInput = [Float](repeating: 0, count: t * k)
        lora.a.grad.withUnsafeMutableBufferPointer { dA in
            dInput.withUnsafeMutableBufferPointer { di in
                linearBackward(dx: dx == nil ? nil : di.baseAddress!, dWeight: dA.baseAddress!, dBias: nil, dy: du, x: input,
                               weight: lora.a.value, rows: t, scratch: scratch)
            }
        }
        if let dx {
            if lora.dropout > 0 {
                let mask = saved.mask.pointer
                for i in 0..<(t * k) { dx[i] += dInput[i] * mask[i] }
            } else {
                for i in 0..<(t * k) { dx[i] += dInput[i] }
            }
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
