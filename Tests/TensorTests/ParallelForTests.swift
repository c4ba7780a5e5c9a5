import CKernels
import Dispatch
import Foundation
import Tensor
import XCTest

/// `parallelFor` on the kernels' worker pool: every index runs exactly once, whether the
/// workers spin or sleep between jobs, whatever the thread count, and when calls nest or come
/// from several threads at once (those take Dispatch's threads instead of waiting).
final class ParallelForTests: XCTestCase {
    private let savedThreads = Compute.threads

    override func tearDown() {
        Compute.setThreads(savedThreads)
        lk_pool_set_spin(200_000)
    }

    /// Runs `jobs` jobs of `count` indices and checks each index ran once per job.
    private func checkCoverage(jobs: Int, count: Int, file: StaticString = #filePath, line: UInt = #line) {
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: count)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: count)
        for _ in 0..<jobs {
            parallelFor(count) { range in
                for i in range { hits[i] += 1 }
            }
        }
        XCTAssertTrue((0..<count).allSatisfy { hits[$0] == Int32(jobs) }, "threads \(Compute.threads)", file: file, line: line)
    }

    func testEveryIndexOnceWithSpinningAndSleepingWorkers() {
        for threads in [1, 2] {
            Compute.setThreads(threads)
            lk_pool_set_spin(200_000)
            checkCoverage(jobs: 2_000, count: 37)
            // Workers asleep between jobs: each job wakes them.
            lk_pool_set_spin(0)
            checkCoverage(jobs: 200, count: 37)
            // Jobs spaced wider than the spin: the workers fall asleep, then wake.
            lk_pool_set_spin(50_000)
            for _ in 0..<5 {
                checkCoverage(jobs: 3, count: 1000)
                usleep(2_000)
            }
        }
    }

    func testNestedCallsComplete() {
        Compute.setThreads(2)
        let outer = 6, inner = 50
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: outer * inner)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: outer * inner)
        parallelFor(outer) { rows in
            for r in rows {
                parallelFor(inner) { cols in
                    for c in cols { hits[r * inner + c] += 1 }
                }
            }
        }
        XCTAssertTrue((0..<outer * inner).allSatisfy { hits[$0] == 1 })
    }

    func testCallsFromSeveralThreadsAtOnce() {
        Compute.setThreads(2)
        let callers = 4, count = 64, jobs = 300
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: callers * count)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: callers * count)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for _ in 0..<jobs {
                parallelFor(count) { range in
                    for i in range { hits[caller * count + i] += 1 }
                }
            }
        }
        XCTAssertTrue((0..<callers * count).allSatisfy { hits[$0] == Int32(jobs) })
    }
}
