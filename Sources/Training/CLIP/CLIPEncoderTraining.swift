import Foundation
import Tensor

// One CLIP encoder layer in training, shared by the image tower (bidirectional attention) and the
// text tower (causal attention). A batch runs as one matrix of rows so every Linear is one GEMM;
// attention runs per sequence.
//
// Shape legend: B sequences, T rows per sequence, R = B·T rows, D hidden, F MLP width,
// H heads, E = D/H head dimension.

/// Where a tower's tensors come from: a name (HF's) and the shape it must have. Random
/// initialisation and a loaded checkpoint are both sources.
public typealias CLIPTensorSource = (_ name: String, _ shape: [Int]) throws -> Tensor

/// A LayerNorm with trainable weight and bias (HF `nn.LayerNorm`).
final class CLIPLayerNorm {
    let weight: Parameter   // (D)
    let bias: Parameter     // (D)
    let eps: Float

    init(prefix: String, dim d: Int, eps: Float, source: CLIPTensorSource) throws {
        weight = Parameter(name: prefix + ".weight", value: try source(prefix + ".weight", [d]), decays: false)
        bias = Parameter(name: prefix + ".bias", value: try source(prefix + ".bias", [d]), decays: false)
        self.eps = eps
    }

    var dim: Int { weight.value.count }
    var parameters: [Parameter] { [weight, bias] }

    func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int) {
        layerNormForward(y, x, weight: weight.value.floats, bias: bias.value.floats, rows: rows, dim: dim, eps: eps)
    }

    /// Accumulates dx and both parameter gradients.
    func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int) {
        withGradient(weight) { dW in
            withGradient(bias) { dB in
                layerNormBackward(dx: dx, dWeight: dW, dBias: dB, dy: dy, x: x, weight: weight.value.floats,
                                  rows: rows, dim: dim, eps: eps)
            }
        }
    }
}

/// A trainable Linear read from `source` (weight decays, bias does not).
func clipLinear(_ name: String, out n: Int, in k: Int, bias: Bool, source: CLIPTensorSource) throws -> TrainableLinear {
    TrainableLinear(name: name, weight: try source(name + ".weight", [n, k]), trainable: true,
                    bias: bias ? try source(name + ".bias", [n]) : nil, trainableBias: bias)
}

/// What one layer keeps from its forward for its backward.
final class CLIPLayerActivations {
    let xIn = ScratchBuffer(), norm1 = ScratchBuffer()                  // (R, D)
    let q = ScratchBuffer(), k = ScratchBuffer(), v = ScratchBuffer()   // (R, D)
    let probs = ScratchBuffer()                                         // (B, H, T, T)
    let att = ScratchBuffer(), xMid = ScratchBuffer(), norm2 = ScratchBuffer()  // (R, D)
    let fc1Out = ScratchBuffer(), act = ScratchBuffer()                 // (R, F) before / after quick-GELU
    let linears = (0..<6).map { _ in LinearSaved() }                    // q k v out fc1 fc2
}

/// HF `CLIPEncoderLayer` (pre-norm, quick-GELU MLP):
/// x += out_proj(attn(layer_norm1(x))); x += fc2(quick_gelu(fc1(layer_norm2(x)))).
final class CLIPTrainableLayer {
    let norm1, norm2: CLIPLayerNorm
    let q, k, v, o, fc1, fc2: TrainableLinear
    let heads: Int
    let causal: Bool
    private let attentionScratch = ScratchBuffer()
    private var noDropout = SplitMix64(seed: 0)   // TrainableLinear's LoRA dropout stream; unused (no LoRA)

    /// `prefix` ends with the layer's dot, e.g. `vision_model.encoder.layers.0.`.
    init(prefix p: String, hidden d: Int, intermediate f: Int, heads: Int, eps: Float, causal: Bool,
         source: CLIPTensorSource) throws {
        norm1 = try CLIPLayerNorm(prefix: p + "layer_norm1", dim: d, eps: eps, source: source)
        q = try clipLinear(p + "self_attn.q_proj", out: d, in: d, bias: true, source: source)
        k = try clipLinear(p + "self_attn.k_proj", out: d, in: d, bias: true, source: source)
        v = try clipLinear(p + "self_attn.v_proj", out: d, in: d, bias: true, source: source)
        o = try clipLinear(p + "self_attn.out_proj", out: d, in: d, bias: true, source: source)
        norm2 = try CLIPLayerNorm(prefix: p + "layer_norm2", dim: d, eps: eps, source: source)
        fc1 = try clipLinear(p + "mlp.fc1", out: f, in: d, bias: true, source: source)
        fc2 = try clipLinear(p + "mlp.fc2", out: d, in: f, bias: true, source: source)
        self.heads = heads
        self.causal = causal
    }

    var hidden: Int { q.outFeatures }
    var intermediate: Int { fc1.outFeatures }

    /// HF's parameter order within a layer.
    var parameters: [Parameter] {
        [k, v, q, o].flatMap(\.parameters) + norm1.parameters + [fc1, fc2].flatMap(\.parameters) + norm2.parameters
    }

    /// out (R, D) = layer(x (R, D)) for B sequences of T rows, saving into `a`.
    func forward(_ x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, saving a: CLIPLayerActivations,
                 sequences b: Int, tokens t: Int) {
        let d = hidden, f = intermediate, r = b * t, e = d / heads
        let xIn = a.xIn.reserve(r * d)
        xIn.update(from: x, count: r * d)
        let n1 = a.norm1.reserve(r * d)
        norm1.forward(n1, xIn, rows: r)
        let qs = a.q.reserve(r * d), ks = a.k.reserve(r * d), vs = a.v.reserve(r * d)
        q.forward(qs, n1, rows: r, saved: a.linears[0], rng: &noDropout)
        k.forward(ks, n1, rows: r, saved: a.linears[1], rng: &noDropout)
        v.forward(vs, n1, rows: r, saved: a.linears[2], rng: &noDropout)
        let att = a.att.reserve(r * d), probs = a.probs.reserve(b * heads * t * t)
        for s in 0..<b {
            let rows = s * t * d, p = probs + s * heads * t * t
            if causal {
                causalAttentionForward(out: att + rows, probs: p, q: qs + rows, k: ks + rows, v: vs + rows,
                                       tokens: t, heads: heads, kvHeads: heads, headDim: e)
            } else {
                bidirectionalAttentionForward(out: att + rows, probs: p, q: qs + rows, k: ks + rows, v: vs + rows,
                                              tokens: t, heads: heads, headDim: e)
            }
        }
        let xMid = a.xMid.reserve(r * d)
        o.forward(xMid, att, rows: r, saved: a.linears[3], rng: &noDropout)
        addInPlace(xMid, xIn, count: r * d)

        let n2 = a.norm2.reserve(r * d)
        norm2.forward(n2, xMid, rows: r)
        let h = a.fc1Out.reserve(r * f), g = a.act.reserve(r * f)
        fc1.forward(h, n2, rows: r, saved: a.linears[4], rng: &noDropout)
        g.update(from: h, count: r * f)
        quickGELUInPlace(g, count: r * f)
        fc2.forward(out, g, rows: r, saved: a.linears[5], rng: &noDropout)
        addInPlace(out, xMid, count: r * d)
    }

    /// The layer's backward: dxIn += ∂L/∂x given dxOut = ∂L/∂out; parameter gradients accumulate.
    /// Intermediate gradients live in `g`, shared by the layers and reused across steps.
    func backward(dxOut: UnsafePointer<Float>, dxIn: UnsafeMutablePointer<Float>, saved a: CLIPLayerActivations,
                  sequences b: Int, tokens t: Int, scratch g: BackwardScratch) {
        let d = hidden, f = intermediate, r = b * t, e = d / heads
        // MLP branch: out = xMid + fc2(gelu(fc1(n2))), n2 = layer_norm2(xMid).
        let dxMid = g.zeroed(0, r * d)
        dxMid.update(from: dxOut, count: r * d)
        let dAct = g.zeroed(1, r * f)
        fc2.backward(dx: dAct, dy: dxOut, x: a.act.pointer, rows: r, saved: a.linears[5])
        let dH = g.zeroed(2, r * f)
        quickGELUBackward(dx: dH, dy: dAct, x: a.fc1Out.pointer, count: r * f)
        let dN2 = g.zeroed(3, r * d)
        fc1.backward(dx: dN2, dy: dH, x: a.norm2.pointer, rows: r, saved: a.linears[4])
        norm2.backward(dx: dxMid, dy: dN2, x: a.xMid.pointer, rows: r)

        // Attention branch: xMid = xIn + out_proj(attn(q(n1), k(n1), v(n1))), n1 = layer_norm1(xIn).
        addInPlace(dxIn, dxMid, count: r * d)
        let dAtt = g.zeroed(4, r * d)
        o.backward(dx: dAtt, dy: dxMid, x: a.att.pointer, rows: r, saved: a.linears[3])
        let dq = g.zeroed(5, r * d), dk = g.zeroed(6, r * d), dv = g.zeroed(7, r * d)
        for s in 0..<b {
            let rows = s * t * d
            causalOrNotBackward(dq: dq + rows, dk: dk + rows, dv: dv + rows, dOut: dAtt + rows, rows: rows,
                                probs: a.probs.pointer + s * heads * t * t, a: a, tokens: t, headDim: e)
        }
        let dN1 = g.zeroed(8, r * d)
        q.backward(dx: dN1, dy: dq, x: a.norm1.pointer, rows: r, saved: a.linears[0])
        k.backward(dx: dN1, dy: dk, x: a.norm1.pointer, rows: r, saved: a.linears[1])
        v.backward(dx: dN1, dy: dv, x: a.norm1.pointer, rows: r, saved: a.linears[2])
        norm1.backward(dx: dxIn, dy: dN1, x: a.xIn.pointer, rows: r)
    }

    /// One sequence's attention backward (its rows start at `rows` in every (R, D) buffer).
    private func causalOrNotBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                     dv: UnsafeMutablePointer<Float>, dOut g: UnsafePointer<Float>, rows: Int,
                                     probs: UnsafePointer<Float>, a: CLIPLayerActivations, tokens t: Int, headDim e: Int) {
        let (qs, ks, vs) = (a.q.pointer + rows, a.k.pointer + rows, a.v.pointer + rows)
        if causal {
            causalAttentionBackward(dq: dq, dk: dk, dv: dv, dOut: g, q: qs, k: ks, v: vs, probs: probs, tokens: t,
                                    heads: heads, kvHeads: heads, headDim: e, scratch: attentionScratch)
        } else {
            bidirectionalAttentionBackward(dq: dq, dk: dk, dv: dv, dOut: g, q: qs, k: ks, v: vs, probs: probs,
                                           tokens: t, heads: heads, headDim: e, scratch: attentionScratch)
        }
    }
}

/// A stack of layers with their saved activations and the stream between them.
final class CLIPTrainableEncoder {
    let layers: [CLIPTrainableLayer]
    let acts: [CLIPLayerActivations]
    let output = ScratchBuffer()   // (R, D) the last layer's output
    private let gradients = [ScratchBuffer(), ScratchBuffer()]   // (R, D) the gradient between layers
    private let scratch = BackwardScratch()                        // a layer's intermediate gradients

    init(prefix: String, count: Int, hidden d: Int, intermediate f: Int, heads: Int, eps: Float, causal: Bool,
         source: CLIPTensorSource) throws {
        layers = try (0..<count).map { i in
            try CLIPTrainableLayer(prefix: "\(prefix)encoder.layers.\(i).", hidden: d, intermediate: f, heads: heads,
                                   eps: eps, causal: causal, source: source)
        }
        acts = layers.map { _ in CLIPLayerActivations() }
    }

    var parameters: [Parameter] { layers.flatMap(\.parameters) }

    /// Runs every layer on x (R, D); returns the output rows (valid until the next forward).
    func forward(_ x: UnsafePointer<Float>, sequences b: Int, tokens t: Int, hidden d: Int) -> UnsafeMutablePointer<Float> {
        let out = output.reserve(b * t * d)
        if layers.isEmpty { out.update(from: x, count: b * t * d) }
        for (l, layer) in layers.enumerated() {
            // Each layer copies its input into its own xIn first, so reading `out` while writing it is safe.
            layer.forward(l == 0 ? x : UnsafePointer(out), out: out, saving: acts[l], sequences: b, tokens: t)
        }
        return out
    }

    /// Backward from dOut (R, D) of the last forward; returns dx (R, D) of its input, valid
    /// until the next backward.
    func backward(_ dOut: UnsafePointer<Float>, sequences b: Int, tokens t: Int, hidden d: Int) -> UnsafePointer<Float> {
        let n = b * t * d
        // dx and dxIn trade places layer by layer.
        var dx = gradients[0].reserve(n), dxIn = gradients[1].reserve(n)
        dx.update(from: dOut, count: n)
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            dxIn.update(repeating: 0, count: n)
            layers[l].backward(dxOut: dx, dxIn: dxIn, saved: acts[l], sequences: b, tokens: t, scratch: scratch)
            swap(&dx, &dxIn)
        }
        return UnsafePointer(dx)
    }
}
