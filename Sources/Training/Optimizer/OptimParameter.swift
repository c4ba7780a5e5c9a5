import Tensor

/// One trainable tensor: its value, its gradient and how the optimizer treats it.
///
/// The value is updated in place, so a model that holds the same `Tensor` sees every step.
/// It must be f32 in writable memory (`Tensor(zeros:)`, `toF32()`), never a memory-mapped
/// weight. Backward passes *accumulate* into `grad`; ``zeroGradients(_:)`` clears it.
///
/// ```swift
/// let w = Parameter(name: "mm_projector.0.weight", value: weight.toF32(),
///                   decays: decays(parameterNamed: "mm_projector.0.weight", shape: weight.shape))
/// ```
public final class Parameter {
    public let name: String
    /// f32, owned; shape as in the checkpoint.
    public var value: Tensor
    /// d loss / d value, same element count as `value`, row-major.
    public var grad: [Float]
    /// Whether AdamW's decoupled weight decay applies (HF excludes biases and norm weights).
    public let decays: Bool
    /// This tensor's learning rate over the base one (e.g. projector lr / LLM lr).
    public var lrScale: Float

    public init(name: String, value: Tensor, decays: Bool, lrScale: Float = 1) {
        precondition(value.dtype == .f32, "parameter '\(name)' must be f32, found \(value.dtype)")
        self.name = name
        self.value = value
        self.grad = [Float](repeating: 0, count: value.count)
        self.decays = decays
        self.lrScale = lrScale
    }

    /// A parameter whose weight decay follows HF Trainer's rule, ``decays(parameterNamed:shape:)``.
    public convenience init(name: String, value: Tensor, lrScale: Float = 1) {
        self.init(name: name, value: value, decays: Training.decays(parameterNamed: name, shape: value.shape),
                  lrScale: lrScale)
    }
}

/// Sets every gradient to zero in place (no reallocation).
public func zeroGradients(_ ps: [Parameter]) {
    for p in ps {
        p.grad.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

/// HF Trainer's weight-decay rule (`Trainer.get_decay_parameter_names`): no decay for biases
/// and normalisation weights.
///
/// HF matches the lower-cased full name against `bias`, `layernorm`, `rmsnorm`,
/// `(^|.)norm($|.)` and `_norm($|.)`, and also skips every parameter of an `nn.LayerNorm`
/// module; a 1-D tensor is taken as such a module's weight here, since names alone cannot
/// tell (CLIP's `pre_layrnorm.weight` is one).
///
/// ```swift
/// decays(parameterNamed: "model.layers.0.input_layernorm.weight", shape: [4096])  // false
/// decays(parameterNamed: "model.layers.0.mlp.up_proj.weight", shape: [11008, 4096])  // true
/// ```
public func decays(parameterNamed name: String, shape: [Int]) -> Bool {
    if shape.count <= 1 { return false }
    let n = name.lowercased()
    if n.contains("bias") || n.contains("layernorm") || n.contains("rmsnorm") { return false }
    let parts = n.split(separator: ".", omittingEmptySubsequences: false)
    return !parts.contains { $0 == "norm" || $0.hasSuffix("_norm") }
}

/// The decimal a `Float` was written as, as a `Double` (`Float(0.1)` → `0.1`, not
/// `0.100000001…`). PyTorch and HF do their scalar arithmetic on Python doubles of the
/// decimals the user typed; recovering them keeps e.g. `ceil(10 * 0.1)` equal to HF's 1.
@inline(__always)
func decimalValue(_ x: Float) -> Double { Double(x.description) ?? Double(x) }  // small strings: no heap
