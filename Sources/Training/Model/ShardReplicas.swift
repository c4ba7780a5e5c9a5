import Dispatch
import Tensor

// Data parallel across the threads of one process: the MPI engine's split (each worker runs
// whole sequences of the batch; gradients summed in a fixed order), without leaving the
// process. The linears of this project's small shapes (hidden 256: 4,096 × 256 × 256 GEMMs)
// and its per-sequence attention split badly over threads inside each call; whole shards,
// each single-threaded, keep every core busy for the whole step.
//
// Shape legend: S sequences of a micro-batch, N shards (≤ threads, ≤ S).

extension Parameter {
    /// The same value storage (an optimizer step in place reaches both), a gradient of its own.
    convenience init(replicaOf p: Parameter) {
        self.init(name: p.name, value: p.value, decays: p.decays, lrScale: p.lrScale)
    }
}

/// Replicas of a model for shards 1..<N of a batch (shard 0 runs on the model itself). Each
/// replica shares every weight with the model and owns its gradients, activations and scratch;
/// its parameters pair one to one, in order, with the model's.
final class ShardReplicas<Model: AnyObject> {
    private(set) var replicas: [Model] = []
    private var pairs: [[(into: Parameter, from: Parameter)]] = []
    private let make: () -> Model
    private let parameters: (Model) -> [Parameter]
    private let owner: [Parameter]

    init(of model: Model, parameters: @escaping (Model) -> [Parameter], make: @escaping () -> Model) {
        self.make = make
        self.parameters = parameters
        owner = parameters(model)
    }

    /// At least `count - 1` replicas, made on first need (a run that never shards makes none).
    func reserve(_ count: Int) {
        while replicas.count < count - 1 {
            let r = make()
            let ps = parameters(r)
            precondition(ps.count == owner.count && zip(ps, owner).allSatisfy { $0.name == $1.name },
                         "a replica's parameters must pair with the model's")
            replicas.append(r)
            pairs.append(Array(zip(owner, ps)).map { (into: $0.0, from: $0.1) })
        }
    }

    /// Copies the model's values into the first `shards - 1` replicas wherever a replica holds
    /// a copy rather than the same storage (a layer that copies its weights when built).
    func syncValues(shards: Int) {
        for k in 0..<max(0, shards - 1) {
            for (into, from) in pairs[k] where into.value.rawPointer != from.value.rawPointer {
                from.value.rawPointer.copyMemory(from: into.value.rawPointer, byteCount: into.value.byteCount)
            }
        }
    }

    /// Adds replica 1's gradients, then replica 2's, … into the model's (a fixed order, so a
    /// given thread count always gives the same sums) and zeroes them for the next batch.
    func reduceGradients(shards: Int) {
        for k in 0..<max(0, shards - 1) {
            let list = pairs[k]
            // Tensors split over the threads: large gradients (embeddings, LM head) dominate.
            parallelFor(list.count) { range in
                for i in range {
                    let (into, from) = list[i]
                    into.grad.withUnsafeMutableBufferPointer { dst in
                        from.grad.withUnsafeMutableBufferPointer { src in
                            let d = dst.baseAddress!, s = src.baseAddress!
                            for j in 0..<dst.count { d[j] += s[j] }
                            src.update(repeating: 0)
                        }
                    }
                }
            }
        }
    }
}

/// Contiguous shards of a batch, balanced by rows: shard k ends where the running total of
/// rows comes closest to k/N of all rows, every shard at least one sequence.
func balancedShards(rows: [Int], parts n: Int) -> [Range<Int>] {
    let count = rows.count, parts = max(1, min(n, count))
    var prefix = [0]
    for r in rows { prefix.append(prefix.last! + r) }
    let total = prefix[count]
    var bounds = [0]
    for k in 1..<parts {
        let target = Double(total) * Double(k) / Double(parts)
        var best = bounds[k - 1] + 1
        for j in best...(count - (parts - k)) where abs(Double(prefix[j]) - target) < abs(Double(prefix[best]) - target) {
            best = j
        }
        bounds.append(best)
    }
    bounds.append(count)
    return (0..<parts).map { bounds[$0]..<bounds[$0 + 1] }
}

/// Runs `body(k)` for k in 0..<n at once, one thread each, with the kernels single-threaded
/// inside (`Compute.threads` is 1 until all return), then restores the thread count. The
/// first error thrown, by shard order, is rethrown.
func runShards(_ n: Int, _ body: (Int) throws -> Void) throws {
    guard n > 1 else { return try body(0) }
    let threads = Compute.threads
    Compute.setThreads(1)
    defer { Compute.setThreads(threads) }
    var errors = [Error?](repeating: nil, count: n)
    errors.withUnsafeMutableBufferPointer { errs in
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: n) { k in
                do { try body(k) } catch { errs[k] = error }
            }
        }
    }
    if let e = errors.compactMap({ $0 }).first { throw e }
}
