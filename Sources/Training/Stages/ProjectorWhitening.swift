import Foundation
import LLaVA
import Tensor

// Shape legend: V vision width (the projector's input), D the first layer's output width.

/// Mean and covariance of the vision features a projector reads, over a sample of images.
///
/// A small CLIP's patch features can be badly conditioned: on the built-in world, three
/// directions (the background's colour) hold 99% of the variance, and an object's shape lives in
/// directions a thousand times weaker. A projector initialised the usual way barely sees those,
/// and training through a language model does not find them. Folding a whitening transform into
/// the first layer (`ProjectorWhitening.whitened`) puts every direction on an equal footing at the
/// start, without changing the architecture: the result is an ordinary `Linear` layer.
public struct FeatureMoments: Sendable {
    public let width: Int
    public let rows: Int
    /// (V)
    public let mean: [Double]
    /// (V, V), row-major, the population covariance.
    public let covariance: [Double]

    /// Moments of the (P, V) feature rows of every image in `paths` (`features(path)` gives them,
    /// e.g. `ImageFeatures.features`), in two passes (mean, then the centred Gram matrix) so small
    /// variances are not lost to cancellation.
    public init(paths: [String], width v: Int, features: (String) throws -> [Float]) throws {
        guard !paths.isEmpty else { throw TrainingError.invalidArgument("no images to measure the vision features on") }
        var sum = [Double](repeating: 0, count: v)
        var rows = 0
        for path in paths {
            let f = try features(path)
            guard f.count % v == 0 else { throw TrainingError.featureShape(expected: v, found: f.count) }
            for r in 0..<(f.count / v) {
                for j in 0..<v { sum[j] += Double(f[r * v + j]) }
            }
            rows += f.count / v
        }
        let mean = sum.map { $0 / Double(rows) }
        var covariance = [Double](repeating: 0, count: v * v)
        var gram = [Float](repeating: 0, count: v * v)
        for path in paths {
            var f = try features(path)
            let p = f.count / v
            for r in 0..<p {
                for j in 0..<v { f[r * v + j] -= Float(mean[j]) }
            }
            f.withUnsafeBufferPointer { x in gram.withUnsafeMutableBufferPointer { gramMatrix($0.baseAddress!, x.baseAddress!, rows: p, columns: v) } }
            for i in 0..<(v * v) { covariance[i] += Double(gram[i]) }
        }
        for i in 0..<(v * v) { covariance[i] /= Double(rows) }
        self.width = v
        self.rows = rows
        self.mean = mean
        self.covariance = covariance
    }

    /// The largest eigenvalue, by power iteration.
    public var largestEigenvalue: Double {
        let v = width
        var x = (0..<v).map { 1 + Double($0 % 7) / 7 }
        var lambda = 0.0
        for _ in 0..<100 {
            var y = [Double](repeating: 0, count: v)
            for i in 0..<v {
                var s = 0.0
                for j in 0..<v { s += covariance[i * v + j] * x[j] }
                y[i] = s
            }
            let norm = y.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return 0 }
            lambda = norm / x.reduce(0) { $0 + $1 * $1 }.squareRoot()
            x = y.map { $0 / norm }
        }
        return lambda
    }
}

public enum ProjectorWhitening {
    /// `projector` with its first layer reading whitened features: with Σ + εI = L Lᵀ
    /// (ε = `relativeEpsilon` × the largest eigenvalue of Σ), the first layer becomes
    /// W' = W L⁻¹ and b' = b − W' μ, so it computes W L⁻¹ (x − μ) + b. Directions weaker than ε
    /// are not amplified past 1/√ε, which keeps noise from swamping the signal.
    public static func whitened(_ projector: Projector, by moments: FeatureMoments, relativeEpsilon: Double = 1e-4) throws -> Projector {
        let v = moments.width
        guard let first = projector.layers.first, first.weight.shape.count == 2, first.weight.shape[1] == v else {
            throw TrainingError.invalidArgument("the projector has no first layer reading \(v) vision features to whiten")
        }
        let lambda = moments.largestEigenvalue
        guard lambda > 0, lambda.isFinite else {
            throw TrainingError.invalidArgument("the vision features do not vary (covariance eigenvalue \(lambda)); cannot whiten them")
        }
        var a = moments.covariance
        for i in 0..<v { a[i * v + i] += relativeEpsilon * lambda }
        let inverse = try inverseCholeskyFactor(a, size: v)
        let d = first.weight.shape[0]
        let w = first.weight.toFloatArray()
        // W' = W · L⁻¹, L⁻¹ lower triangular: W'[r, j] = Σ_{k ≥ j} W[r, k] L⁻¹[k, j].
        let weight = Tensor([Float](repeating: 0, count: d * v), shape: [d, v])
        let out = weight.floats
        parallelFor(d, minChunk: 4) { rows in
            for r in rows {
                for j in 0..<v {
                    var s = 0.0
                    for k in j..<v { s += Double(w[r * v + k]) * inverse[k * v + j] }
                    out[r * v + j] = Float(s)
                }
            }
        }
        let oldBias = first.bias?.toFloatArray() ?? [Float](repeating: 0, count: d)
        let bias = (0..<d).map { r -> Float in
            var s = Double(oldBias[r])
            for j in 0..<v { s -= Double(out[r * v + j]) * moments.mean[j] }
            return Float(s)
        }
        var layers = projector.layers
        layers[0] = (weight, Tensor(bias, shape: [d]))
        return Projector(kind: projector.kind, activation: projector.activation, layers: layers,
                         inputWidth: projector.inputWidth, outputWidth: projector.outputWidth)
    }

    /// L⁻¹ for the Cholesky factor L of the symmetric positive-definite (n, n) matrix `a`.
    static func inverseCholeskyFactor(_ a: [Double], size n: Int) throws -> [Double] {
        var l = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            var diagonal = a[j * n + j]
            for k in 0..<j { diagonal -= l[j * n + k] * l[j * n + k] }
            guard diagonal > 0 else {
                throw TrainingError.invalidArgument("the vision-feature covariance is not positive definite at row \(j); cannot whiten it")
            }
            let root = diagonal.squareRoot()
            l[j * n + j] = root
            for i in (j + 1)..<max(j + 1, n) {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                l[i * n + j] = s / root
            }
        }
        // Forward substitution, one column of the identity at a time.
        var inverse = [Double](repeating: 0, count: n * n)
        for c in 0..<n {
            inverse[c * n + c] = 1 / l[c * n + c]
            for i in (c + 1)..<max(c + 1, n) {
                var s = 0.0
                for k in c..<i { s -= l[i * n + k] * inverse[k * n + c] }
                inverse[i * n + c] = s / l[i * n + i]
            }
        }
        return inverse
    }
}
