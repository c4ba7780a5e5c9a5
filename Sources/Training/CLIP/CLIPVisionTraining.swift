import Foundation
import Tensor
import Vision

// HF `CLIPVisionModel` + `visual_projection` in training: patch convolution (im2col + GEMM),
// class token, learned positions, pre_layrnorm, L encoder layers, post_layernorm on the class
// row (the pooled output), projection to the joint space. No gradient reaches the pixels.
//
// Shape legend: B images, C channels, S image side, P patch side, N = (S/P)² patches,
// K = C·P·P pixels per patch, T = N + 1 rows per image (class row first), R = B·T,
// D hidden, J joint (projection) dimension.

/// The image tower of a CLIP model in training.
public final class CLIPVisionTowerTraining {
    public let config: CLIPVisionConfiguration
    public let projectionDim: Int
    let patchEmbedding: Parameter      // (D, C, P, P), used as (D, K)
    let classEmbedding: Parameter      // (D)
    let positionEmbedding: Parameter   // (T, D)
    let preNorm: CLIPLayerNorm         // pre_layrnorm (sic)
    let encoder: CLIPTrainableEncoder
    let postNorm: CLIPLayerNorm
    let projection: TrainableLinear    // visual_projection: (J, D), no bias

    // Saved activations of the last forward.
    let patches = ScratchBuffer()      // (B·N, K) im2col rows
    let embeddings = ScratchBuffer()   // (R, D) before pre_layrnorm
    let normed = ScratchBuffer()       // (R, D) after pre_layrnorm: the encoder's input
    let pooled = ScratchBuffer()       // (B, D) class rows of the encoder output
    let pooledNorm = ScratchBuffer()   // (B, D) post_layernorm of those
    let projected = ScratchBuffer()    // (B, J)
    let projectionSaved = LinearSaved()
    private var images = 0

    /// Tensors named as in a `CLIPModel` checkpoint (`vision_model.…`, `visual_projection.weight`).
    public init(config c: CLIPVisionConfiguration, projectionDim: Int, source: CLIPTensorSource) throws {
        config = c
        self.projectionDim = projectionDim
        let d = c.hiddenSize, p = "vision_model."
        patchEmbedding = Parameter(name: p + "embeddings.patch_embedding.weight",
                                   value: try source(p + "embeddings.patch_embedding.weight",
                                                     [d, c.channelCount, c.patchSize, c.patchSize]), decays: true)
        classEmbedding = Parameter(name: p + "embeddings.class_embedding",
                                   value: try source(p + "embeddings.class_embedding", [d]), decays: true)
        positionEmbedding = Parameter(name: p + "embeddings.position_embedding.weight",
                                      value: try source(p + "embeddings.position_embedding.weight", [c.positionCount, d]),
                                      decays: true)
        preNorm = try CLIPLayerNorm(prefix: p + "pre_layrnorm", dim: d, eps: c.layerNormEps, source: source)
        encoder = try CLIPTrainableEncoder(prefix: p, count: c.layerCount, hidden: d, intermediate: c.intermediateSize,
                                           heads: c.headCount, eps: c.layerNormEps, causal: false, source: source)
        postNorm = try CLIPLayerNorm(prefix: p + "post_layernorm", dim: d, eps: c.layerNormEps, source: source)
        projection = try clipLinear("visual_projection", out: projectionDim, in: d, bias: false, source: source)
    }

    /// In HF's `named_parameters` order.
    public var parameters: [Parameter] {
        [classEmbedding, patchEmbedding, positionEmbedding] + preNorm.parameters + encoder.parameters
            + postNorm.parameters + projection.parameters
    }

    /// post_layernorm of the class rows of the last forward, (B, D): HF's `pooler_output`.
    public var pooledNormRows: UnsafePointer<Float> { UnsafePointer(pooledNorm.pointer) }

    var patchMatrix: Tensor {
        let c = config
        return patchEmbedding.value.reshaped([c.hiddenSize, c.channelCount * c.patchSize * c.patchSize])
    }

    /// Image embeddings (B, J), unnormalised, of B images (B, C, S, S) normalised by the CLIP processor.
    /// The pointer is valid until the next forward.
    public func forward(pixels: UnsafePointer<Float>, images b: Int) -> UnsafePointer<Float> {
        let c = config, d = c.hiddenSize, t = c.positionCount, n = c.patchCount
        let k = c.channelCount * c.patchSize * c.patchSize
        images = b
        let rows = patches.reserve(b * n * k)
        for i in 0..<b { im2col(pixels + i * c.channelCount * c.imageSize * c.imageSize, into: rows + i * n * k) }
        var patchOut = [Float](repeating: 0, count: b * n * d)
        linearForward(&patchOut, rows, weight: patchMatrix, rows: b * n, scratch: projection.workspace.widened)
        let x = embeddings.reserve(b * t * d)
        for i in 0..<b {
            let image = x + i * t * d
            image.update(from: classEmbedding.value.floats, count: d)
            patchOut.withUnsafeBufferPointer { (image + d).update(from: $0.baseAddress! + i * n * d, count: n * d) }
            addInPlace(image, positionEmbedding.value.floats, count: t * d)
        }
        let x0 = normed.reserve(b * t * d)
        preNorm.forward(x0, x, rows: b * t)
        let h = encoder.forward(x0, sequences: b, tokens: t, hidden: d)
        return projectPooledRows(of: h, sequences: b, hidden: d, row: { i in i * t },
                                 norm: postNorm, projection: projection, projectionDim: projectionDim,
                                 saved: projectionSaved, pooled: pooled, pooledNorm: pooledNorm, projected: projected)
    }

    /// Backward from dEmbeddings (B, J) of the last forward; parameter gradients accumulate.
    public func backward(dEmbeddings: UnsafePointer<Float>) {
        let c = config, d = c.hiddenSize, t = c.positionCount, n = c.patchCount, b = images
        var dClsNorm = [Float](repeating: 0, count: b * d)
        projection.backward(dx: &dClsNorm, dy: dEmbeddings, x: pooledNorm.pointer, rows: b, saved: projectionSaved)
        var dCls = [Float](repeating: 0, count: b * d)
        postNorm.backward(dx: &dCls, dy: dClsNorm, x: pooled.pointer, rows: b)
        // Only the class rows reach the loss; every other row of the encoder output gets zero.
        var dH = [Float](repeating: 0, count: b * t * d)
        for i in 0..<b { for j in 0..<d { dH[i * t * d + j] = dCls[i * d + j] } }
        let dX0 = encoder.backward(dH, sequences: b, tokens: t, hidden: d)
        var dX = [Float](repeating: 0, count: b * t * d)
        preNorm.backward(dx: &dX, dy: dX0, x: embeddings.pointer, rows: b * t)
        // x = [class; patches·Wᵀ] + positions, per image.
        var dPatchOut = [Float](repeating: 0, count: b * n * d)
        classEmbedding.grad.withUnsafeMutableBufferPointer { dClass in
            positionEmbedding.grad.withUnsafeMutableBufferPointer { dPos in
                for i in 0..<b {
                    for j in 0..<d { dClass[j] += dX[i * t * d + j] }
                    for j in 0..<(t * d) { dPos[j] += dX[i * t * d + j] }
                    for j in 0..<(n * d) { dPatchOut[i * n * d + j] = dX[i * t * d + d + j] }
                }
            }
        }
        withGradient(patchEmbedding) { dW in
            linearBackward(dx: nil, dWeight: dW, dBias: nil, dy: dPatchOut, x: patches.pointer, weight: patchMatrix,
                           rows: b * n, scratch: projection.workspace.widened)
        }
    }

    /// One row per patch (row-major over the grid), each the patch's pixels in the conv kernel's
    /// order (channel, y, x): (N, K) — the same layout the inference tower uses.
    private func im2col(_ pixels: UnsafePointer<Float>, into rows: UnsafeMutablePointer<Float>) {
        let c = config, p = c.patchSize, side = c.imageSize, grid = c.patchesPerSide
        let k = c.channelCount * p * p
        for index in 0..<c.patchCount {
            let py = index / grid, px = index % grid
            let row = rows + index * k
            for ch in 0..<c.channelCount {
                for y in 0..<p {
                    (row + (ch * p + y) * p).update(from: pixels + ch * side * side + (py * p + y) * side + px * p, count: p)
                }
            }
        }
    }
}
