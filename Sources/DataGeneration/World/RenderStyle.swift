import Tensor

/// How scenes are drawn, as ranges each image draws from (seeded by the scene's texture seed, so
/// a scene always gets the same pixels). The default draws exactly as the renderer always has;
/// `varied` spreads every setting for training; `unseen` lies outside `varied` on every setting,
/// to test whether a model depends on the pixels of the style it was trained on; `wide` lies
/// beyond `unseen` on every setting but anti-aliasing, so training on `varied` and `wide` brackets
/// `unseen` from both sides without drawing with any of its settings.
///
/// ```swift
/// let style = try RenderStyle.preset("unseen", outlineWidth: 1.5)
/// let image = SceneRenderer.render(scene, style: style)
/// ```
public struct RenderStyle: Sendable, Equatable {
    /// Supersampling per axis, one picked per object: 4 is the renderer's anti-aliasing, 1 hard edges.
    public var antiAliasSamples: [Int] = [ShapeGeometry.supersample]
    /// Outline width in pixels, per object (0: none).
    public var outlineWidth: ClosedRange<Double> = 0...0
    /// Multiplies the background's wave texture and grain (±8 and ±6 grey levels at 1).
    public var texture: ClosedRange<Double> = 1...1
    /// A linear ramp across the image in a random direction, this many grey levels end to end.
    public var gradient: ClosedRange<Double> = 0...0
    /// Each object's size is multiplied by 1 + u, u uniform in ±sizeJitter…
    public var sizeJitter = 0.0
    /// …and its width by 1 + v and its height by 1 / (1 + v), v uniform in ±aspectJitter.
    public var aspectJitter = 0.0

    public init(outlineWidth: Double = 0) { self.outlineWidth = outlineWidth...outlineWidth }

    public static let presetNames = ["plain", "varied", "unseen", "wide"]

    /// `plain`: the renderer as it was (outline `outlineWidth`). `varied`: anti-aliasing 2 or 4
    /// samples, outline ×0.67–1.33, texture ×0.5–1.5, gradient 0–24 levels, size ±8%, aspect ±8%.
    /// `unseen`: hard edges (1 sample), outline ×1.5–1.7, texture ×2–2.5, gradient 32–40, size and
    /// aspect changed by 10–12% up or down: none of it within `varied`'s ranges. `wide`: anti-aliasing
    /// 2 or 4 samples as `varied`, outline ×1.8–2.0, texture ×2.7–3.5, gradient 42–50, size and
    /// aspect changed by 16.6–20% up or down: beyond `unseen` on each of those.
    public static func preset(_ name: String, outlineWidth w: Double) throws -> RenderStyle {
        var s = RenderStyle(outlineWidth: w)
        switch name {
        case "plain": break
        case "varied":
            s.antiAliasSamples = [2, 4]
            s.outlineWidth = (w * 0.67)...(w * 1.33)
            s.texture = 0.5...1.5
            s.gradient = 0...24
            s.sizeJitter = 0.08
            s.aspectJitter = 0.08
        case "unseen":
            s.antiAliasSamples = [1]
            s.outlineWidth = (w * 1.5)...(w * 1.7)
            s.texture = 2...2.5
            s.gradient = 32...40
            s.sizeJitter = -0.12
            s.aspectJitter = -0.12
        case "wide":
            s.antiAliasSamples = [2, 4]
            s.outlineWidth = (w * 1.8)...(w * 2.0)
            s.texture = 2.7...3.5
            s.gradient = 42...50
            s.sizeJitter = -0.2
            s.aspectJitter = -0.2
        default:
            throw DataGenerationError.invalidSetting(name: "renderStyle", value: name, expected: presetNames.joined(separator: ", "))
        }
        return s
    }

    public func validate() throws {
        guard !antiAliasSamples.isEmpty, antiAliasSamples.allSatisfy({ (1...8).contains($0) }) else {
            throw DataGenerationError.invalidSetting(name: "antiAliasSamples", value: "\(antiAliasSamples)", expected: "values in 1...8")
        }
        guard outlineWidth.lowerBound >= 0, outlineWidth.upperBound <= 4 else {
            throw DataGenerationError.invalidSetting(name: "outlineWidth", value: "\(outlineWidth)", expected: "within 0...4")
        }
        guard texture.lowerBound >= 0, texture.upperBound <= 4 else {
            throw DataGenerationError.invalidSetting(name: "texture", value: "\(texture)", expected: "within 0...4")
        }
        guard gradient.lowerBound >= 0, gradient.upperBound <= 80 else {
            throw DataGenerationError.invalidSetting(name: "gradient", value: "\(gradient)", expected: "within 0...80")
        }
        for (name, j) in [("sizeJitter", sizeJitter), ("aspectJitter", aspectJitter)] where abs(j) > 0.25 {
            throw DataGenerationError.invalidSetting(name: name, value: "\(j)", expected: "-0.25...0.25")
        }
    }

    /// A jitter factor: 1 + u with u uniform in ±j for j ≥ 0; for j < 0, u is ±(0.83|j| … |j|)
    /// with a random sign, which keeps it away from the small jitters of a positive j.
    static func jitter(_ j: Double, _ rng: inout SplitMix64) -> Double {
        if j >= 0 { return 1 + rng.uniform(-j, j) }
        let magnitude = rng.uniform(0.83 * -j, -j)
        return 1 + (rng.chance(0.5) ? magnitude : -magnitude)
    }

    /// What one object gets: supersampling, outline width and stretch (x, y).
    func drawObject(_ rng: inout SplitMix64) -> (samples: Int, outline: Double, stretch: (x: Double, y: Double)) {
        let samples = rng.pick(antiAliasSamples)
        let outline = rng.uniform(outlineWidth.lowerBound, outlineWidth.upperBound)
        let scale = Self.jitter(sizeJitter, &rng), aspect = Self.jitter(aspectJitter, &rng)
        return (samples, outline, (scale * aspect, scale / aspect))
    }
}
