import Checkpoint
import Foundation
import Tensor
import Vision

// Shape legend: P image features (patches), V vision width (mm_hidden_size), D LLM width.

/// The multimodal projector W: vision features (P, V) → LLM embeddings (P, D).
/// `linear` (LLaVA v1), `mlp{N}x_gelu` (LLaVA-1.5: Linear → GELU → Linear), or `identity`.
public final class Projector: @unchecked Sendable {
    public let kind: ProjectorKind
    public let activation: ProjectorActivation
    /// Layer i: weight (out, in), bias (out) f32 or nil.
    public let layers: [(weight: Tensor, bias: Tensor?)]
    public let inputWidth: Int
    public let outputWidth: Int
    private let scratch = ScratchBuffer()

    public init(kind: ProjectorKind, activation: ProjectorActivation, layers: [(weight: Tensor, bias: Tensor?)],
                inputWidth: Int, outputWidth: Int) {
        self.kind = kind
        self.activation = activation
        self.layers = layers
        self.inputWidth = inputWidth
        self.outputWidth = outputWidth
    }

    /// Weight names per layout: llava-hf `multi_modal_projector.linear_{1,2}` (with a `model.`
    /// prefix in newer saves); original `model.mm_projector.{0,2,4,…}` (Sequential indices skip
    /// the GELUs) or `model.mm_projector.weight` for `linear`.
    static func layerNames(kind: ProjectorKind, layout: CheckpointLayout, store: WeightStore) -> [String] {
        switch layout {
        case .llavaHF:
            let prefix = store.contains("model.multi_modal_projector.linear_1.weight") ? "model.multi_modal_projector." : "multi_modal_projector."
            return [prefix + "linear_1", prefix + "linear_2"]
        case .original:
            switch kind {
            case .identity: return []
            case .linear: return ["model.mm_projector"]
            case .mlp(let n): return (0..<n).map { "model.mm_projector.\($0 * 2)" }
            }
        }
    }

    /// Loads the projector's tensors from `loader`, shape-checked.
    public convenience init(kind: ProjectorKind, activation: ProjectorActivation, bias: Bool, layout: CheckpointLayout,
                            loader: WeightLoader, inputWidth v: Int, outputWidth d: Int) throws {
        let names = Self.layerNames(kind: kind, layout: layout, store: loader.store)
        let layers = try names.enumerated().map { i, name -> (weight: Tensor, bias: Tensor?) in
            let input = i == 0 ? v : d
            let w = try loader.take(name + ".weight", shape: [d, input])
            let b = bias ? try loader.take(name + ".bias", shape: [d]).toF32() : nil
            return (w, b)
        }
        if case .identity = kind, v != d { throw LLaVAError.visionWidthMismatch(projectorInput: d, towerOutput: v) }
        self.init(kind: kind, activation: activation, layers: layers, inputWidth: v, outputWidth: d)
    }

    /// (P, V) features → (P, D) embeddings.
    public func forward(_ features: [Float], rows p: Int) -> [Float] {
        precondition(features.count == p * inputWidth, "projector input has \(features.count) values, expected \(p)×\(inputWidth)")
        var x = features
        for (i, layer) in layers.enumerated() {
            var y = [Float](repeating: 0, count: p * layer.weight.shape[0])
            y.withUnsafeMutableBufferPointer { yp in
                x.withUnsafeBufferPointer { xp in
                    linearForward(yp.baseAddress!, xp.baseAddress!, weight: layer.weight, bias: layer.bias,
                                  rows: p, scratch: scratch)
                }
                if i < layers.count - 1 { activation.apply(yp.baseAddress!, count: yp.count) }
            }
            x = y
        }
        return x
    }
}

extension ProjectorActivation {
    /// The activation, in place.
    public func apply(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        switch self {
        case .gelu: geluInPlace(x, count: n)
        case .quickGELU: quickGELUInPlace(x, count: n)
        case .relu: for i in 0..<n { x[i] = max(0, x[i]) }
        case .silu: for i in 0..<n { x[i] = x[i] / (1 + expf(-x[i])) }
        }
    }
}
