import LLaVA
import Tensor
import XCTest
@testable import Training

/// `--mm-projector-init whiten`: the moments of the features, the Cholesky whitening, and a
/// first layer that then sees every feature direction with unit variance.
final class ProjectorWhiteningTests: XCTestCase {
    /// Features (rows, 4) dominated by one direction, as a small CLIP's background colour is:
    /// x = 30·a·u + 0.3·b·v + 0.05·c·w + noise along the last axis, plus an offset.
    func features(images: Int, rows: Int, seed: UInt64) -> [String: [Float]] {
        var rng = SplitMix64(seed: seed)
        func normal() -> Float {
            let u1 = max(Float(rng.next() >> 40) / Float(1 << 24), 1e-7), u2 = Float(rng.next() >> 40) / Float(1 << 24)
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
        let u: [Float] = [0.5, 0.5, 0.5, 0.5], v: [Float] = [0.5, -0.5, 0.5, -0.5], w: [Float] = [0.5, 0.5, -0.5, -0.5]
        let offset: [Float] = [1, -2, 0.5, 3]
        var out: [String: [Float]] = [:]
        for i in 0..<images {
            var f: [Float] = []
            for _ in 0..<rows {
                let a = 30 * normal(), b = 0.3 * normal(), c = 0.05 * normal(), d = 0.02 * normal()
                for j in 0..<4 { f.append(offset[j] + a * u[j] + b * v[j] + c * w[j] + (j == 3 ? d : 0)) }
            }
            out["\(i).png"] = f
        }
        return out
    }

    func testMomentsMatchADirectComputation() throws {
        let sets = features(images: 5, rows: 7, seed: 1)
        let paths = sets.keys.sorted()
        let m = try FeatureMoments(paths: paths, width: 4) { sets[$0]! }
        let rows = paths.flatMap { p in (0..<7).map { r in (0..<4).map { Double(sets[p]![r * 4 + $0]) } } }
        XCTAssertEqual(m.rows, 35)
        let means = (0..<4).map { j in rows.reduce(0.0) { $0 + $1[j] } / 35 }
        for j in 0..<4 {
            XCTAssertEqual(m.mean[j], means[j], accuracy: 1e-9)
            for k in 0..<4 {
                var c = 0.0
                for row in rows { c += (row[j] - means[j]) * (row[k] - means[k]) }
                c /= 35
                XCTAssertEqual(m.covariance[j * 4 + k], c, accuracy: 1e-4 * max(1, abs(c)))
            }
        }
        XCTAssertEqual(m.largestEigenvalue, 900, accuracy: 900 * 0.5, "the dominant direction's variance")
    }

    func testInverseCholeskyFactorWhitensTheMatrix() throws {
        let a: [Double] = [4, 2, 0.4, 2, 3, 0.5, 0.4, 0.5, 1]
        let li = try ProjectorWhitening.inverseCholeskyFactor(a, size: 3)
        for i in 0..<3 {
            for j in 0..<3 {
                // (L⁻¹ A L⁻ᵀ)[i, j]
                var s = 0.0
                for k in 0..<3 { for l in 0..<3 { s += li[i * 3 + k] * a[k * 3 + l] * li[j * 3 + l] } }
                XCTAssertEqual(s, i == j ? 1 : 0, accuracy: 1e-12)
            }
            for j in (i + 1)..<3 { XCTAssertEqual(li[i * 3 + j], 0, "lower triangular") }
        }
        XCTAssertThrowsError(try ProjectorWhitening.inverseCholeskyFactor([1, 2, 2, 1], size: 2))
    }

    /// After whitening, the first layer's output minus its old bias is W z with z of zero mean and
    /// identity covariance, so its covariance is W Wᵀ: the weak directions count as much as the
    /// strong one. Without whitening the strong direction swamps them.
    func testFirstLayerSeesWhitenedFeatures() throws {
        let sets = features(images: 40, rows: 50, seed: 2)
        let paths = sets.keys.sorted()
        let moments = try FeatureMoments(paths: paths, width: 4) { sets[$0]! }
        let projector = ModelSource.randomProjector(kind: .mlp(depth: 2), input: 4, output: 3, seed: 7)
        let whitened = try ProjectorWhitening.whitened(projector, by: moments, relativeEpsilon: 1e-9)
        XCTAssertEqual(whitened.layers.count, 2)
        XCTAssertEqual(whitened.layers[1].weight.toFloatArray(), projector.layers[1].weight.toFloatArray(), "later layers untouched")
        let w = projector.layers[0].weight.toFloatArray(), b = projector.layers[0].bias!.toFloatArray()
        let w2 = whitened.layers[0].weight.toFloatArray(), b2 = whitened.layers[0].bias!.toFloatArray()
        let x = paths.flatMap { sets[$0]! }.map(Double.init)
        let n = x.count / 4
        var y = [[Double]](repeating: [0, 0, 0], count: n)
        for r in 0..<n {
            for o in 0..<3 {
                var s = Double(b2[o]) - Double(b[o])
                for j in 0..<4 { s += Double(w2[o * 4 + j]) * x[r * 4 + j] }
                y[r][o] = s
            }
        }
        for o in 0..<3 {
            XCTAssertEqual(y.map { $0[o] }.reduce(0, +) / Double(n), 0, accuracy: 1e-3, "zero mean")
            for p in 0..<3 {
                let cov = y.map { $0[o] * $0[p] }.reduce(0, +) / Double(n)
                var wwt = 0.0
                for j in 0..<4 { wwt += Double(w[o * 4 + j]) * Double(w[p * 4 + j]) }
                XCTAssertEqual(cov, wwt, accuracy: 2e-3, "output covariance (\(o), \(p))")
            }
        }
    }

    func testConstantFeaturesAndAMismatchedProjectorAreRefused() throws {
        let constant = try FeatureMoments(paths: ["a", "b"], width: 4) { _ in [1, 2, 3, 4, 1, 2, 3, 4] }
        let projector = ModelSource.randomProjector(kind: .linear, input: 4, output: 3, seed: 1)
        XCTAssertThrowsError(try ProjectorWhitening.whitened(projector, by: constant)) {
            XCTAssertTrue("\($0)".contains("do not vary"), "\($0)")
        }
        let sets = features(images: 3, rows: 10, seed: 3)
        let moments = try FeatureMoments(paths: sets.keys.sorted(), width: 4) { sets[$0]! }
        let wide = ModelSource.randomProjector(kind: .linear, input: 5, output: 3, seed: 1)
        XCTAssertThrowsError(try ProjectorWhitening.whitened(wide, by: moments)) { XCTAssertTrue("\($0)".contains("4 vision features"), "\($0)") }
        XCTAssertThrowsError(try FeatureMoments(paths: [], width: 4) { _ in [] })
        XCTAssertThrowsError(try FeatureMoments(paths: ["odd"], width: 4) { _ in [1, 2, 3] })
    }
}
