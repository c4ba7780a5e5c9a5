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
    /// How the moments are stored: f32 (torch's AdamW, the default) or bf16 (half the memory;
    /// an explicit choice, see ``MomentPrecision``).
    public var momentPrecision: MomentPrecision
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
        /// The same two moments as bf16 bit patterns when the optimizer keeps them in bf16
        /// (then `expAvg` and `expAvgSq` are empty), else empty.
        public var expAvgBF16: [UInt16] = [], expAvgSqBF16: [UInt16] = []

        public init(step: Int, shape: [Int], expAvg: [Float], expAvgSq: [Float]) {
            precondition(expAvg.count == shape.reduce(1, *) && expAvgSq.count == expAvg.count,
                         "moments of \(expAvg.count) and \(expAvgSq.count) values for shape \(shape)")
            self.step = step
            self.shape = shape
            self.expAvg = expAvg
            self.expAvgSq = expAvgSq
        }

        /// Moments kept in bf16: `expAvg`, `expAvgSq` bit patterns (the high half of an f32).
        public init(step: Int, shape: [Int], bf16ExpAvg: [UInt16], bf16ExpAvgSq: [UInt16]) {
            precondition(bf16ExpAvg.count == shape.reduce(1, *) && bf16ExpAvgSq.count == bf16ExpAvg.count,
                         "moments of \(bf16ExpAvg.count) and \(bf16ExpAvgSq.count) values for shape \(shape)")
            self.step = step
            self.shape = shape
            expAvg = []
            expAvgSq = []
            expAvgBF16 = bf16ExpAvg
            expAvgSqBF16 = bf16ExpAvgSq
        }

        init(zerosFor shape: [Int], precision: MomentPrecision) {
            let n = shape.reduce(1, *)
            switch precision {
            case .f32:
                self.init(step: 0, shape: shape, expAvg: .init(repeating: 0, count: n), expAvgSq: .init(repeating: 0, count: n))
            case .bf16:
                self.init(step: 0, shape: shape, bf16ExpAvg: .init(repeating: 0, count: n),
                          bf16ExpAvgSq: .init(repeating: 0, count: n))
            }
        }

        /// Whether the moments are held as bf16.
        public var isBF16: Bool { expAvg.isEmpty && !expAvgBF16.isEmpty }
    }

    public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0,
                momentPrecision: MomentPrecision = .f32) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "betas must be in [0, 1): \(beta1), \(beta2)")
        precondition(eps >= 0 && weightDecay >= 0, "eps \(eps) and weight decay \(weightDecay) must be >= 0")
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.momentPrecision = momentPrecision
        self.state = [:]
    }

    /// One update of every parameter from its `grad`. Allocates only the first time it sees a
    /// parameter; the element loop runs on `Compute.threads` threads.
    public mutating func step(_ params: [Parameter], lr: Float) {
        for p in params {
            if state[p.name] == nil { state[p.name] = Moments(zerosFor: p.value.shape, precision: momentPrecision) }
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

    /// torch's AdamW on one element, in its operation order: decoupled decay, the two moment
    /// updates (m by lerp), then the bias-corrected step.
    @inline(__always)
    func apply(to param: inout Float, m: inout Float, v: inout Float, gradient g: Float) {
        if decays { param *= decayFactor }
        m += oneMinusBeta1 * (g - m)
        v = v * beta2 + oneMinusBeta2 * g * g
        let denom = v.squareRoot() / bc2Sqrt + eps
        param += negStepSize * (m / denom)
    }
}

extension AdamW.Moments {
    /// Applies one AdamW step to `p` in place, in parallel over elements.
    mutating func update(_ p: Parameter, _ s: StepScalars) {
        if isBF16 { return updateBF16(p, s) }
        let n = p.value.count
        precondition(expAvg.count == n, "AdamW state for '\(p.name)' has \(expAvg.count) values, the parameter \(n)")
        step += 1
        let param = p.value.floats
        p.grad.withUnsafeBufferPointer { g in
            expAvg.withUnsafeMutableBufferPointer { m in
                expAvgSq.withUnsafeMutableBufferPointer { v in
                    let (g, m, v) = (g.baseAddress!, m.baseAddress!, v.baseAddress!)
                    parallelFor(n, minChunk: 1 << 15) { range in
                        for i in range { s.apply(to: &param[i], m: &m[i], v: &v[i], gradient: g[i]) }
                    }
                }
            }
        }
    }
}

// MARK: - Moments in bf16

/// How AdamW stores its two moments.
///
/// `.f32` is torch's `AdamW` exactly. `.bf16` halves the optimizer's memory (8 instead of 16
/// bytes per trained value with its f32 value and gradient: 1.3 GB less for a 7B LoRA at
/// r = 128) and changes the arithmetic: each step reads the moments widened to f32, updates
/// them in f32 as `.f32` does, then rounds them to bf16 *stochastically* (a deterministic
/// hash of parameter, step and element decides, so a resumed run draws the same roundings).
/// Round-to-nearest would freeze v: with β2 = 0.999 a step changes v by 0.1 %, under half a
/// bf16 ulp (0.2–0.4 %), so v could never decay; stochastic rounding keeps it right on average.
public enum MomentPrecision: String, Codable, Sendable, CaseIterable {
    case f32, bf16
}

extension AdamW.Moments {
    /// `update` with the moments widened from and rounded back to bf16.
    mutating func updateBF16(_ p: Parameter, _ s: StepScalars) {
        let n = p.value.count
        precondition(expAvgBF16.count == n, "AdamW state for '\(p.name)' has \(expAvgBF16.count) values, the parameter \(n)")
        step += 1
        let param = p.value.floats
        let noiseBase = fnv1a(p.name) ^ (UInt64(step) &* 0xD6E8_FEB8_6659_FD93)
        p.grad.withUnsafeBufferPointer { g in
            expAvgBF16.withUnsafeMutableBufferPointer { m in
                expAvgSqBF16.withUnsafeMutableBufferPointer { v in
                    let (g, m, v) = (g.baseAddress!, m.baseAddress!, v.baseAddress!)
                    parallelFor(n, minChunk: 1 << 15) { range in
                        for i in range {
                            var mi = Float(bitPattern: UInt32(m[i]) << 16), vi = Float(bitPattern: UInt32(v[i]) << 16)
                            s.apply(to: &param[i], m: &mi, v: &vi, gradient: g[i])
                            let noise = roundingNoise(noiseBase, i)
                            m[i] = bf16Stochastic(mi, noise: UInt32(truncatingIfNeeded: noise) & 0xFFFF)
                            v[i] = bf16Stochastic(vi, noise: UInt32(truncatingIfNeeded: noise >> 16) & 0xFFFF)
                        }
                    }
                }
            }
        }
    }
}

/// 32 random bits for element i of one parameter's step (SplitMix64's finaliser).
@inline(__always)
func roundingNoise(_ base: UInt64, _ i: Int) -> UInt64 {
    var z = base &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// x rounded to bf16, up with probability (dropped low bits) / 2¹⁶: adding 16 random bits
/// below the kept ones, then truncating. Infinities and NaNs pass through as themselves.
@inline(__always)
func bf16Stochastic(_ x: Float, noise: UInt32) -> UInt16 {
    let bits = x.bitPattern
    guard x.isFinite else { return UInt16(bits >> 16) | (x.isNaN ? 0x40 : 0) }
    return UInt16((bits &+ noise) >> 16)
}
