// Shape legend: T tokens, V vocabulary, D embedding dimension.

/// out[t, :] = table[tokens[t], :] for a [V, D] table of f32, f16 or bf16 (rows widened to f32).
/// Ids below zero (placeholders such as image positions, filled in by the caller) are left untouched.
public func embeddingForward(_ out: UnsafeMutablePointer<Float>, table: Tensor, tokens: [Int]) {
    precondition(table.rank == 2, "embedding table must be 2-D, got \(table.shape)")
    let v = table.shape[0], d = table.shape[1], rowBytes = table.dtype.byteCount(elements: d)
    for (t, id) in tokens.enumerated() where id >= 0 {
        precondition(id < v, "token id \(id) at position \(t) is outside the vocabulary 0..<\(v)")
        convertToFloat(table.rawPointer + id * rowBytes, dtype: table.dtype, count: d, into: out + t * d)
    }
}

/// Backward of `embeddingForward`, accumulating: dTable[tokens[t], :] += dOut[t, :], ids below
/// zero skipped. A repeated id sums its rows; threads own column ranges, so repeats never race.
public func embeddingBackward(dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                              tokens: [Int], dim d: Int) {
    tokens.withUnsafeBufferPointer { ids in
        parallelFor(d, minChunk: max(64, 16_384 / max(1, ids.count))) { cols in
            for (t, id) in ids.enumerated() where id >= 0 {
                let src = dOut + t * d, dst = dTable + id * d
                for j in cols { dst[j] += src[j] }
            }
        }
    }
}
