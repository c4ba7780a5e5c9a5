import CKernels
import Foundation

// Shape legend: T rows (token positions), V vocabulary.

/// The label that marks a row as not counted in the loss (PyTorch's and LLaVA's IGNORE_INDEX).
/// Internal: Training declares its own public `ignoreIndex`, and two exported ones would clash.
let crossEntropyIgnoreIndex: Int32 = -100

/// Next-token cross-entropy, forward and backward in one pass over the logits.
///
/// - logits: [T, V]; targets: [T], already shifted by the caller (targets[t] is the label of
///   row t), -100 (IGNORE_INDEX) for rows that are not learned.
/// - dLogits: [T, V] or nil; for counted rows it ACCUMULATES scale · (softmax − onehot), ignored
///   rows get nothing. `scale` lets the caller divide by the token count of a whole batch.
/// - Returns the sum of −log softmax[target] over counted rows, and how many rows were counted.
///
///     let (sum, n) = crossEntropyForwardBackward(logits: z, targets: y, rows: t, vocabulary: v,
///                                                dLogits: dz, scale: 1 / Float(batchTokens))
///
/// A target outside 0..<V other than -100 stops the program with its row and value: a wrong
/// label must never be silently skipped.
public func crossEntropyForwardBackward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                        rows t: Int, vocabulary v: Int,
                                        dLogits: UnsafeMutablePointer<Float>?, scale: Float) -> (lossSum: Double, count: Int) {
    crossEntropy(logits: UnsafeMutablePointer(mutating: logits), targets: targets, rows: t, vocabulary: v,
                 gradient: dLogits.map { .add($0) } ?? .none, scale: scale)
}

/// `crossEntropyForwardBackward` with the gradient written over the logits: row r of `logits`
/// becomes scale · (softmax − onehot), or zeros for an ignored row, the values the other form
/// adds to a zeroed dLogits, bit for bit. Spares the (T, V) gradient buffer.
///
///     let (sum, n) = crossEntropyForwardBackwardInPlace(logits: z, targets: y, rows: t, vocabulary: v, scale: s)
public func crossEntropyForwardBackwardInPlace(logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
                                               rows t: Int, vocabulary v: Int, scale: Float) -> (lossSum: Double, count: Int) {
    crossEntropy(logits: logits, targets: targets, rows: t, vocabulary: v, gradient: .overwrite, scale: scale)
}

/// Where a row's gradient scale · (softmax − onehot) goes.
private enum CrossEntropyGradient {
    case none
    /// Added to this (T, V) buffer.
    case add(UnsafeMutablePointer<Float>)
    /// Written over the logits (ignored rows become zeros).
    case overwrite
}

/// Both forms above: per counted row, e = exp(row − max) once (`lk_exp`), the loss
/// max + log Σe − row[target] with the sum in Double (large V stays accurate), and the gradient
/// e · (scale / Σe) − scale·onehot from the same e. Logits are written only for `.overwrite`.
private func crossEntropy(logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, rows t: Int,
                          vocabulary v: Int, gradient: CrossEntropyGradient, scale: Float) -> (lossSum: Double, count: Int) {
    let losses = UnsafeMutablePointer<Double>.allocate(capacity: max(1, t))
    defer { losses.deallocate() }
    losses.initialize(repeating: 0, count: max(1, t))
    parallelFor(t, minChunk: max(1, 16_384 / max(1, v))) { rows in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: v) { buffer in
            let e = buffer.baseAddress!
            for r in rows {
                let y = targets[r], row = logits + r * v
                if y == crossEntropyIgnoreIndex {
                    if case .overwrite = gradient { row.update(repeating: 0, count: v) }
                    continue
                }
                precondition(y >= 0 && Int(y) < v,
                             "target \(y) at row \(r) is outside the vocabulary 0..<\(v) (ignore index is \(crossEntropyIgnoreIndex))")
                var m = -Float.infinity
                for j in 0..<v where row[j] > m { m = row[j] }
                for j in 0..<v { e[j] = row[j] - m }
                lk_exp(e, e, v)
                var sum: Double = 0
                for j in 0..<v { sum += Double(e[j]) }
                losses[r] = Double(m) + log(sum) - Double(row[Int(y)])
                let k = scale / Float(sum)
                switch gradient {
                case .none: continue
                case .add(let dLogits):
                    let d = dLogits + r * v
                    for j in 0..<v { d[j] += e[j] * k }
                    d[Int(y)] -= scale
                case .overwrite:
                    for j in 0..<v { row[j] = e[j] * k }
                    row[Int(y)] -= scale
                }
            }
        }
    }
    var total: Double = 0, count = 0
    for r in 0..<t where targets[r] != crossEntropyIgnoreIndex {  // in order, so the sum is deterministic
        total += losses[r]
        count += 1
    }
    return (total, count)
}
