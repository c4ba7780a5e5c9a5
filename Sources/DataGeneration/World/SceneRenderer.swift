import Foundation
import Tensor
import Vision

/// Draws a `Scene`: textured background, then each object in order, alpha-blended by its
/// 4×4-supersampled coverage (anti-aliased edges), optionally with a dark outline: the fill is
/// the object shrunk by `outline` pixels of radius, the ring left over is dark grey (clip-art
/// style: the ring is the same whatever the fill, so a shape is in the pixels independently of
/// its colour).
///
/// ```swift
/// let image = SceneRenderer.render(WorldGenerator().scene(seed: 1))   // 96×96 RGBImage
/// ```
public enum SceneRenderer {
    /// The outline's colour, a dark grey that no fill colour uses.
    static let outlineColour: [Float] = [40, 40, 40]

    public static func render(_ scene: Scene, outline: Double = 0) -> RGBImage {
        render(scene, style: RenderStyle(outlineWidth: outline))
    }

    /// Draws `scene` in `style`; each object's and the background's settings are drawn from a
    /// stream seeded by the scene's texture seed, apart from the texture's own stream, so the
    /// default style gives the same pixels as `render(_:outline:)` always has.
    public static func render(_ scene: Scene, style: RenderStyle) -> RGBImage {
        var styleRNG = SplitMix64(seed: scene.textureSeed ^ 0x5EED_0F57_7E00_0001)
        var pixels = background(scene, style: style, rng: &styleRNG)
        let n = scene.size
        for object in scene.objects {
            let look = style.drawObject(&styleRNG)
            let cov = ShapeGeometry.coverage(of: object, imageSize: n, samples: look.samples, stretch: look.stretch)
            let c = object.colour.rgb
            let colour = [Float(c.0), Float(c.1), Float(c.2)]
            // The fill's coverage: the object shrunk by the outline's width, or the whole object.
            var fill = cov
            if look.outline > 0 {
                var inner = object
                inner.radius = max(0, object.radius - look.outline)
                inner.box = ShapeGeometry.box(object.shape, radius: inner.radius, centre: object.centre)
                fill = ShapeGeometry.coverage(of: inner, imageSize: n, samples: look.samples, stretch: look.stretch)
            }
            blend(&pixels, n, cov: cov, fill: fill, colour: colour)
        }
        return RGBImage(width: n, height: n, pixels: pixels.map { UInt8(max(0, min(255, $0.rounded()))) })
    }

    /// Alpha-blends one object: the outline colour where the object covers and its fill does not.
    private static func blend(_ pixels: inout [Float], _ n: Int, cov: Coverage, fill: Coverage, colour: [Float]) {
        for y in 0..<cov.height {
            for x in 0..<cov.width {
                let a = cov.values[y * cov.width + x]
                guard a > 0 else { continue }
                let fy = cov.y0 + y - fill.y0, fx = cov.x0 + x - fill.x0
                let f = (0..<fill.height).contains(fy) && (0..<fill.width).contains(fx) ? min(a, fill.values[fy * fill.width + fx]) : 0
                let i = ((cov.y0 + y) * n + cov.x0 + x) * 3
                for k in 0..<3 {
                    let edge = (a - f) * outlineColour[k] + f * colour[k]
                    pixels[i + k] = (1 - a) * pixels[i + k] + edge
                }
            }
        }
    }

    /// The muted base tone with a soft wave texture and per-pixel noise (scaled by the style's
    /// texture factor), plus the style's linear gradient, as floats.
    private static func background(_ scene: Scene, style: RenderStyle, rng styleRNG: inout SplitMix64) -> [Float] {
        var rng = SplitMix64(seed: scene.textureSeed)
        let n = scene.size
        let base = scene.background.rgb
        let tone = [Float(base.0), Float(base.1), Float(base.2)]
        let fx = rng.uniform(1, 3), fy = rng.uniform(1, 3)
        let px = rng.uniform(0, 2 * .pi), py = rng.uniform(0, 2 * .pi)
        let t = styleRNG.uniform(style.texture.lowerBound, style.texture.upperBound)
        let g = styleRNG.uniform(style.gradient.lowerBound, style.gradient.upperBound)
        let angle = styleRNG.uniform(0, 2 * .pi)
        // The ramp runs from -g/2 to +g/2 along the direction `angle` over the image.
        let (gx, gy) = (g * cos(angle) / Double(n), g * sin(angle) / Double(n))
        var pixels = [Float](repeating: 0, count: n * n * 3)
        for y in 0..<n {
            for x in 0..<n {
                let wave = 8 * sin(2 * .pi * fx * Double(x) / Double(n) + px) * sin(2 * .pi * fy * Double(y) / Double(n) + py)
                let grain = rng.uniform(-6, 6)
                let ramp = gx * (Double(x) - Double(n) / 2) + gy * (Double(y) - Double(n) / 2)
                let shift = Float(wave * t + grain * t + ramp)
                for k in 0..<3 { pixels[(y * n + x) * 3 + k] = tone[k] + shift }
            }
        }
        return pixels
    }
}
