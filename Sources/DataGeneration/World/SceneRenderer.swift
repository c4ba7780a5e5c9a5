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
        var pixels = background(scene)
        let n = scene.size
        for object in scene.objects {
            let cov = ShapeGeometry.coverage(of: object, imageSize: n)
            let c = object.colour.rgb
            let colour = [Float(c.0), Float(c.1), Float(c.2)]
            // The fill's coverage: the object shrunk by the outline's width, or the whole object.
            var fill = cov
            if outline > 0 {
                var inner = object
                inner.radius = max(0, object.radius - outline)
                inner.box = ShapeGeometry.box(object.shape, radius: inner.radius, centre: object.centre)
                fill = ShapeGeometry.coverage(of: inner, imageSize: n)
            }
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
        return RGBImage(width: n, height: n, pixels: pixels.map { UInt8(max(0, min(255, $0.rounded()))) })
    }

    /// The muted base tone with a soft wave texture and per-pixel noise, as floats.
    private static func background(_ scene: Scene) -> [Float] {
        var rng = SplitMix64(seed: scene.textureSeed)
        let n = scene.size
        let base = scene.background.rgb
        let tone = [Float(base.0), Float(base.1), Float(base.2)]
        let fx = rng.uniform(1, 3), fy = rng.uniform(1, 3)
        let px = rng.uniform(0, 2 * .pi), py = rng.uniform(0, 2 * .pi)
        var pixels = [Float](repeating: 0, count: n * n * 3)
        for y in 0..<n {
            for x in 0..<n {
                let wave = 8 * sin(2 * .pi * fx * Double(x) / Double(n) + px) * sin(2 * .pi * fy * Double(y) / Double(n) + py)
                let grain = rng.uniform(-6, 6)
                let shift = Float(wave + grain)
                for k in 0..<3 { pixels[(y * n + x) * 3 + k] = tone[k] + shift }
            }
        }
        return pixels
    }
}
