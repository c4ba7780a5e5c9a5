import Foundation
import Tensor
import TestSupport
import XCTest

/// Batched decode's linear gives every row exactly what the one-row mat-vec gives it,
/// whatever the number of rows beside it: the property continuous batching relies on.
final class BatchInvariantLinearTests: XCTestCase {
    func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000 - 1000) / 997
        }
    }

    func testEveryRowIsBitIdenticalToTheOneRowMatvec() {
        // k covers the 32-wide body, the 8-wide remainder and the scalar tail.
        for dtype in [DType.f32, .f16, .bf16] {
            for k in [7, 8, 40, 67, 96] {
                let n = 13
                let weight = Tensor(randoms(n * k, seed: UInt64(k)), shape: [n, k]).converted(to: dtype)
                let bias = Tensor(randoms(n, seed: 99), shape: [n])
                for m in 1...5 {
                    let x = randoms(m * k, seed: UInt64(m * 31 + k))
                    var batched = [Float](repeating: .nan, count: m * n)
                    batched.withUnsafeMutableBufferPointer { y in
                        linearForwardBatchInvariant(y.baseAddress!, x, weight: weight, bias: bias, rows: m)
                    }
                    for row in 0..<m {
                        var alone = [Float](repeating: .nan, count: n)
                        let xr = Array(x[row * k..<(row + 1) * k])
                        alone.withUnsafeMutableBufferPointer { y in
                            linearForward(y.baseAddress!, xr, weight: weight, bias: bias, rows: 1, scratch: ScratchBuffer())
                        }
                        XCTAssertEqual(Array(batched[row * n..<(row + 1) * n]).map(\.bitPattern), alone.map(\.bitPattern),
                                       "\(dtype) k=\(k) m=\(m) row \(row)")
                    }
                }
            }
        }
    }
}
