import Foundation
import LLaVA
import Tensor

// Shape legend: P feature rows of one image, V vision width, D LLM width.

/// The projector in training: `linear` or `mlp{N}x_gelu`, every layer trainable
/// (it is what stage 1 learns), with the reference's separate learning rate as `lrScale`.
public final class TrainableProjector {
    public let kind: ProjectorKind
    let layers: [TrainableLinear]
    let activation: ProjectorActivation
    // Per image of the current sequence: its input and each layer's pre-activation output.
    private var saved: [[ScratchBuffer]] = []
    private var inputs: [[Float]] = []
    private let linearSaved = LinearSaved()

    public init(_ projector: Projector, names: [String], lrScale: Float) {
        kind = projector.kind
        activation = projector.activation
        layers = zip(projector.layers, names).map { layer, name in
            TrainableLinear(name: name, weight: layer.weight, trainable: true, bias: layer.bias,
                            trainableBias: layer.bias != nil, lrScale: lrScale)
        }
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    var outputWidth: Int { layers.last?.outFeatures ?? 0 }
    var inputWidth: Int { layers.first?.inFeatures ?? 0 }

    /// Forgets the saved activations (a new sequence begins).
    func reset() {
        saved.removeAll(keepingCapacity: true)
        inputs.removeAll(keepingCapacity: true)
    }

    /// (P, V) → (P, D) for image `saved.count`, keeping activations for `backward(image:)`.
    func forward(_ features: [Float], rows p: Int) -> [Float] {
        inputs.append(features)
        var buffers: [ScratchBuffer] = []
        var x = features
        var rng = SplitMix64(seed: 0)  // projector layers carry no dropout
        for (i, layer) in layers.enumerated() {
            let pre = ScratchBuffer(p * layer.outFeatures)
            x.withUnsafeBufferPointer { layer.forward(pre.pointer, $0.baseAddress!, rows: p, saved: linearSaved, rng: &rng) }
            buffers.append(pre)
            x = Array(UnsafeBufferPointer(start: pre.pointer, count: p * layer.outFeatures))
            if i < layers.count - 1 { x.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: $0.count) } }
        }
        saved.append(buffers)
        return x
    }

    /// Accumulates the projector's gradients from dOut (P, D) of image `k`.
    func backward(image k: Int, dOut: [Float], rows p: Int) {
        var dy = dOut
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[i]
            // The layer's input: the image features, or the previous layer's activated output.
            var x: [Float]
            if i == 0 {
                x = inputs[k]
            } else {
                x = Array(UnsafeBufferPointer(start: saved[k][i - 1].pointer, count: p * layers[i - 1].outFeatures))
                x.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: $0.count) }
            }
            var dx = [Float](repeating: 0, count: i == 0 ? 0 : p * layer.inFeatures)
            if i == 0 {
                layer.backward(dx: nil, dy: dy, x: x, rows: p, saved: linearSaved)
            } else {
                layer.backward(dx: &dx, dy: dy, x: x, rows: p, saved: linearSaved)
                // back through the activation, at the previous layer's pre-activation values
                var da = [Float](repeating: 0, count: dx.count)
                activationBackward(&da, dx, pre: saved[k][i - 1].pointer, count: dx.count)
                dy = da
            }
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
