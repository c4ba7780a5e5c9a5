import Tensor

/// Both CLIP towers' heads, forward: for each of the `b` sequences the encoder output's row
/// `row(i)` (the text tower's end-of-text token, the vision tower's class token), layer-normed,
/// then projected to the shared embedding space. The pooled and normed rows are kept in
/// `pooled` and `pooledNorm` for the backward pass; the (B, J) embeddings go to `projected`.
func projectPooledRows(of h: UnsafePointer<Float>, sequences b: Int, hidden d: Int, row: (Int) -> Int,
                       norm: CLIPLayerNorm, projection: TrainableLinear, projectionDim: Int, saved: LinearSaved,
                       pooled: ScratchBuffer, pooledNorm: ScratchBuffer, projected: ScratchBuffer) -> UnsafePointer<Float> {
    let rows = pooled.reserve(b * d), normed = pooledNorm.reserve(b * d)
    // The layer norm is per row, so only the pooled rows need it.
    for i in 0..<b { (rows + i * d).update(from: h + row(i) * d, count: d) }
    norm.forward(normed, rows, rows: b)
    let out = projected.reserve(b * projectionDim)
    var rng = SplitMix64(seed: 0)
    projection.forward(out, normed, rows: b, saved: saved, rng: &rng)
    return UnsafePointer(out)
}
