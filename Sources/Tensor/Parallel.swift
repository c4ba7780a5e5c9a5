import Dispatch
import Foundation
import CBLAS
import CKernels

/// How many threads the kernels use. Set once at start-up (`--threads`);
/// it also sets OpenBLAS's own thread count so the two never oversubscribe.
public enum Compute {
    nonisolated(unsafe) private static var _threads = defaultThreadCount()

    public static var threads: Int { _threads }

    /// Keeps freed large blocks in the heap for reuse (glibc): training frees and reallocates
    /// multi-megabyte activations every step, which otherwise costs a page fault per page.
    /// Measured on CLIP training: 10x fewer page faults, 14% less wall time.
    public static func retainFreedMemory() { lk_retain_freed_memory() }

    /// The OpenBLAS kernel set chosen in place of its generic fallback on a CPU it did not
    /// recognise (see `lk_select_blas_kernels`), or nil when OpenBLAS's own choice stands.
    public static let blasKernels: String? = lk_select_blas_kernels().map { String(cString: $0) }

    public static func setThreads(_ n: Int) {
        _ = blasKernels
        _threads = max(1, n)
        openblas_set_num_threads(Int32(_threads))
    }

    static func defaultThreadCount() -> Int {
        _ = blasKernels
        let n = ProcessInfoCores.active
        openblas_set_num_threads(Int32(n))
        return n
    }
}

enum ProcessInfoCores {
    static var active: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}

/// Splits `0..<count` into at most `Compute.threads` contiguous chunks and runs
/// `body(range)` on each in parallel: the first on the calling thread, the others on the
/// kernels' worker threads (`lk_pool_run`), which spin between jobs so that the many short
/// jobs of decoding start at once. Small jobs (below `minChunk` per thread) run inline, where
/// a thread hop would cost more than the work. A call made while the workers are busy (from
/// another thread, or nested in a chunk) runs its chunks on Dispatch's threads instead.
@inline(__always)
public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = min(Compute.threads, max(1, count / max(1, minChunk)))
    if threads <= 1 || count <= 1 {
        body(0..<count)
        return
    }
    let chunk = (count + threads - 1) / threads
    withoutActuallyEscaping(body) { body in
        var job = PoolJob(body: body, chunk: chunk, count: count)
        let ran = withUnsafeMutablePointer(to: &job) { job in
            lk_pool_run(threads, { context, task in
                let job = context!.assumingMemoryBound(to: PoolJob.self)
                job.pointee.run(Int(task))
            }, job)
        }
        if ran != 0 {
            DispatchQueue.concurrentPerform(iterations: threads) { job.run($0) }
        }
    }
}

/// One `parallelFor` as the worker threads see it.
struct PoolJob {
    let body: (Range<Int>) -> Void
    let chunk: Int, count: Int

    func run(_ task: Int) {
        let lo = task * chunk, hi = min(count, lo + chunk)
        if lo < hi { body(lo..<hi) }
    }
}
