#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// AdamW exactly as `torch.optim.AdamW` (Loshchilov & Hutter), element by element in f32:
///
///     p ← p · (1 − lr·wd)                      decoupled weight decay, before the Adam update
///     m ← m + (1 − β1)(g − m)                  torch's lerp
///     v ← β2·v + (1 − β2)·g²
///     p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
///
/// with the bias corrections in double precision, as torch computes its Python scalars, and
/// `lr` = the step's learning rate × the parameter's `lrScale`. Moments live here, keyed by
/// parameter name, each with its own step count `t` (torch keeps one per parameter too).
///
/// ```swift
/// var adamw = AdamW(weightDecay: 0.1)
/// for step in 0..<schedule.totalSteps {
///     zeroGradients(params)
///     /* forward + backward into params[i].grad */
///     let norm = clipGradientNorm(params, maxNorm: 1)
///     adamw.step(params, lr: schedule.lr(atStep: step))
/// }
/// ```
public struct AdamW: Codable, Equatable, Sendable {
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    /// Per-parameter state, keyed by `Parameter.name`; created at a parameter's first step.
    public var state: [String: Moments]

    /// One parameter's Adam state.
    public struct Moments: Codable, Equatable, Sendable {
        /// Steps taken (torch's `state["step"]`).
        public var step: Int
        /// The parameter's shape, so moments can be saved as tensors.
        public var shape: [Int]
        /// First moment m (torch's `exp_avg`), row-major.
        public var expAvg: [Float]
        /// Second moment v (torch's `exp_avg_sq`), row-major.
        public var expAvgSq: [Float]

        public init(step: Int, shape: [Int], expAvg: [Float], expAvgSq: [Float]) {
            precondition(expAvg.count == shape.reduce(1, *) && expAvgSq.count == expAvg.count,
                         "moments of \(expAvg.count) and \(expAvgSq.count) values for shape \(shape)")
            self.step = step
            self.shape = shape
            self.expAvg = expAvg
            self.expAvgSq = expAvgSq
        }

        init(zerosFor shape: [Int]) {
            let n = shape.reduce(1, *)
            self.init(step: 0, shape: shape, expAvg: .init(repeating: 0, count: n),
                      expAvgSq: .init(repeating: 0, count: n))
        }
    }

    public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "betas must be in [0, 1): \(beta1), \(beta2)")
        precondition(eps >= 0 && weightDecay >= 0, "eps \(eps) and weight decay \(weightDecay) must be >= 0")
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.state = [:]
    }

    /// One update of every parameter from its `grad`. Allocates only the first time it sees a
    /// parameter; the element loop runs on `Compute.threads` threads.
    public mutating func step(_ params: [Parameter], lr: Float) {
        for p in params {
            if state[p.name] == nil { state[p.name] = Moments(zerosFor: p.value.shape) }
            let scalars = stepScalars(for: p, lr: lr, step: state[p.name]!.step + 1)
            state[p.name]!.update(p, scalars)
        }
    }

    /// The per-step constants, computed as torch does on Python floats, then used in f32.
    private func stepScalars(for p: Parameter, lr: Float, step t: Int) -> StepScalars {
        let (b1, b2) = (decimalValue(beta1), decimalValue(beta2))
        let lrP = decimalValue(lr) * decimalValue(p.lrScale)
        let wd = p.decays ? decimalValue(weightDecay) : 0
        let bc1 = 1 - pow(b1, Double(t)), bc2 = 1 - pow(b2, Double(t))
        return StepScalars(decayFactor: Float(1 - lrP * wd), oneMinusBeta1: Float(1 - b1), beta2: Float(b2),
                           oneMinusBeta2: Float(1 - b2), bc2Sqrt: Float(bc2.squareRoot()),
                           eps: Float(decimalValue(eps)), negStepSize: Float(-(lrP / bc1)), decays: wd != 0)
    }
}

struct StepScalars {
    var decayFactor, oneMinusBeta1, beta2, oneMinusBeta2, bc2Sqrt, eps, negStepSize: Float
    var decays: Bool
}

extension AdamW.Moments {
    /// Applies one AdamW step to `p` in place, in parallel over elements.
    mutating func update(_ p: Parameter, _ s: StepScalars) {
        let n = p.value.count
        precondition(expAvg.count == n, "AdamW state for '\(p.name)' has \(expAvg.count) values, the parameter \(n)")
        step += 1
        let param = p.value.floats
        p.grad.withUnsafeBufferPointer { g in
            expAvg.withUnsafeMutableBufferPointer { m in
                expAvgSq.withUnsafeMutableBufferPointer { v in
                    let (g, m, v) = (g.baseAddress!, m.baseAddress!, v.baseAddress!)
                    parallelFor(n, minChunk: 1 << 15) { range in
                        for i in range {
                            if s.decays { param[i] *= s.decayFactor }
                            m[i] += s.oneMinusBeta1 * (g[i] - m[i])
                            v[i] = v[i] * s.beta2 + s.oneMinusBeta2 * g[i] * g[i]
                            let denom = v[i].squareRoot() / s.bc2Sqrt + s.eps
                            param[i] += s.negStepSize * (m[i] / denom)
                        }
                    }
                }
            }
        }
    }
}
