import Distributed
import Foundation
import Tensor

/// Sums gradients across the ranks of a data-parallel run, in buckets: small tensors (norms,
/// biases, LoRA factors) are packed into one buffer of up to `bucketFloats`, so each MPI call
/// moves megabytes rather than a few bytes; a tensor as large as a bucket goes by itself, in
/// place. A world of one does nothing.
final class GradientReducer {
    let group: ProcessGroup
    let bucketFloats: Int
    private let bucket: ScratchBuffer

    init(group: ProcessGroup, bucketFloats: Int = 4 << 20) {
        self.group = group
        self.bucketFloats = bucketFloats
        bucket = ScratchBuffer(group.size > 1 ? bucketFloats : 1)
    }

    /// Every parameter's gradient becomes its sum over the ranks, on every rank.
    func allreduceGradients(_ params: [Parameter]) {
        guard group.size > 1 else { return }
        var pending: [Parameter] = [], filled = 0
        func flush() {
            guard filled > 0 else { return }
            group.allreduceSum(bucket.pointer, count: filled)
            var offset = 0
            for p in pending {
                p.grad.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: bucket.pointer + offset, count: $0.count) }
                offset += p.grad.count
            }
            pending.removeAll(keepingCapacity: true)
            filled = 0
        }
        for p in params {
            let n = p.grad.count
            if n >= bucketFloats {
                p.grad.withUnsafeMutableBufferPointer { group.allreduceSum($0.baseAddress!, count: n) }
                continue
            }
            if filled + n > bucketFloats { flush() }
            p.grad.withUnsafeBufferPointer { (bucket.pointer + filled).update(from: $0.baseAddress!, count: n) }
            pending.append(p)
            filled += n
        }
        flush()
    }

    /// Every parameter's value becomes rank 0's.
    func broadcastValues(_ params: [Parameter]) {
        guard group.size > 1 else { return }
        for p in params { group.broadcast(p.value.floats, count: p.value.count) }
    }
}
