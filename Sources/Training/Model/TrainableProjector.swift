import Foundation
import LLaVA
import Tensor

// Shape legend: P feature rows (of all images of a batch), V vision width, D LLM width.

/// The projector in training: `linear` or `mlp{N}x_gelu`, every layer trainable
/// (it is what stage 1 learns), with the reference's separate learning rate as `lrScale`.
public final class TrainableProjector {
    public let kind: ProjectorKind
    let layers: [TrainableLinear]
    let activation: ProjectorActivation
    // Of the last forward (all images of a batch): its input, each layer's output before and
    // after the activation, and the backward's own gradients.
    private let input = ScratchBuffer()                 // (P, V)
    private let preActivations: [ScratchBuffer]        // per layer (P, D)
    private let activated: [ScratchBuffer]             // per layer but the last (P, D)
    private let dActivated = ScratchBuffer(), dPre = [ScratchBuffer(), ScratchBuffer()]
    private let linearSaved = LinearSaved()

    public init(_ projector: Projector, names: [String], lrScale: Float) {
        kind = projector.kind
        activation = projector.activation
        layers = zip(projector.layers, names).map { layer, name in
            TrainableLinear(name: name, weight: layer.weight, trainable: true, bias: layer.bias,
                            trainableBias: layer.bias != nil, lrScale: lrScale)
        }
        preActivations = layers.map { _ in ScratchBuffer() }
        activated = layers.map { _ in ScratchBuffer() }
    }

    /// The same weights with gradients, activations and scratch of its own (`ShardReplicas`).
    init(replicaOf o: TrainableProjector) {
        kind = o.kind
        activation = o.activation
        layers = o.layers.map(TrainableLinear.init(replicaOf:))
        preActivations = layers.map { _ in ScratchBuffer() }
        activated = layers.map { _ in ScratchBuffer() }
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    var outputWidth: Int { layers.last?.outFeatures ?? 0 }
    var inputWidth: Int { layers.first?.inFeatures ?? 0 }

    /// (P, V) → (P, D) for all images of a batch at once (P = images × rows per image), one
    /// GEMM per layer; keeps the input and each layer's pre-activation output for `backward`.
    /// The result is valid until the next forward.
    func forward(_ features: UnsafePointer<Float>, rows p: Int) -> UnsafePointer<Float> {
        input.reserve(p * inputWidth).update(from: features, count: p * inputWidth)
        var x = UnsafePointer(input.pointer)
        for (i, layer) in layers.enumerated() {
            let pre = preActivations[i].reserve(p * layer.outFeatures)
            layer.forward(pre, x, rows: p, saved: linearSaved, batch: .empty)
            guard i < layers.count - 1 else { return UnsafePointer(pre) }
            let act = activated[i].reserve(p * layer.outFeatures)
            act.update(from: pre, count: p * layer.outFeatures)
            activation.apply(act, count: p * layer.outFeatures)
            x = UnsafePointer(act)
        }
        return x
    }

    /// Accumulates the projector's gradients from dOut (P, D) of the last forward.
    func backward(dOut: UnsafePointer<Float>, rows p: Int) {
        var dy = dOut
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[i]
            // The layer's input: the image features, or the previous layer's activated output.
            guard i > 0 else {
                layer.backward(dx: nil, dy: dy, x: input.pointer, rows: p, saved: linearSaved)
                return
            }
            let n = p * layer.inFeatures
            let dx = dActivated.reserve(n)
            dx.update(repeating: 0, count: n)
            layer.backward(dx: dx, dy: dy, x: activated[i - 1].pointer, rows: p, saved: linearSaved)
            // back through the activation, at the previous layer's pre-activation values
            let da = dPre[i % 2].reserve(n)
            da.update(repeating: 0, count: n)
            activationBackward(da, dx, pre: preActivations[i - 1].pointer, count: n)
            dy = UnsafePointer(da)
        }
    }

    private func activationBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                    pre: UnsafePointer<Float>, count n: Int) {
        switch activation {
        case .gelu: geluBackward(dx: dx, dy: dy, x: pre, count: n)
        case .quickGELU: quickGELUBackward(dx: dx, dy: dy, x: pre, count: n)
        case .relu: for i in 0..<n { dx[i] += pre[i] > 0 ? dy[i] : 0 }
        case .silu:
            for i in 0..<n {
                let s = 1 / (1 + expf(-pre[i]))
                dx[i] += dy[i] * s * (1 + pre[i] * (1 - s))
            }
        }
    }
}
