import Foundation

// Shape outlines and their anti-aliased pixel coverage (4×4 supersampling).

/// The fraction of each pixel inside a shape, over the pixels of its bounding box.
struct Coverage {
    var x0: Int, y0: Int, width: Int, height: Int
    /// (height, width) row-major, values in [0, 1].
    var values: [Float]

    func at(x: Int, y: Int) -> Float {
        let cx = x - x0, cy = y - y0
        guard cx >= 0, cy >= 0, cx < width, cy < height else { return 0 }
        return values[cy * width + cx]
    }

    var total: Float { values.reduce(0, +) }
}

enum ShapeGeometry {
    /// Samples per pixel along each axis.
    static let supersample = 4

    /// Outline of a polygonal shape of circumradius 1 around the origin, before centring.
    private static func unitOutline(_ shape: Shape) -> [Point] {
        switch shape {
        case .circle:
            return []
        case .square:
            let h = 0.8
            return [Point(x: -h, y: -h), Point(x: h, y: -h), Point(x: h, y: h), Point(x: -h, y: h)]
        case .triangle:
            return [Point(x: 0, y: -0.9), Point(x: 1, y: 0.9), Point(x: -1, y: 0.9)]
        case .star:
            // Five points, the first straight up; inner radius 0.45 keeps the arms thick.
            return (0..<10).map { i in
                let r = i % 2 == 0 ? 1.0 : 0.45
                let a = Double(i) * Double.pi / 5 - Double.pi / 2
                return Point(x: r * cos(a), y: r * sin(a))
            }
        case .cross:
            let w = 0.32, l = 0.9
            return [Point(x: -w, y: -l), Point(x: w, y: -l), Point(x: w, y: -w), Point(x: l, y: -w),
                    Point(x: l, y: w), Point(x: w, y: w), Point(x: w, y: l), Point(x: -w, y: l),
                    Point(x: -w, y: w), Point(x: -l, y: w), Point(x: -l, y: -w), Point(x: -w, y: -w)]
        }
    }

    /// Outline in pixels with its bounding-box centre at `centre` (empty for circles).
    static func outline(_ shape: Shape, radius: Double, centre: Point) -> [Point] {
        let unit = unitOutline(shape)
        guard !unit.isEmpty else { return [] }
        let box = bounds(of: unit)
        let c = box.centre
        return unit.map { Point(x: centre.x + ($0.x - c.x) * radius, y: centre.y + ($0.y - c.y) * radius) }
    }

    /// Bounding box in pixels of a shape with its box centre at `centre`.
    static func box(_ shape: Shape, radius: Double, centre: Point) -> Box {
        if shape == .circle {
            return Box(x1: centre.x - radius, y1: centre.y - radius, x2: centre.x + radius, y2: centre.y + radius)
        }
        return bounds(of: outline(shape, radius: radius, centre: centre))
    }

    private static func bounds(of points: [Point]) -> Box {
        Box(x1: points.map(\.x).min()!, y1: points.map(\.y).min()!, x2: points.map(\.x).max()!, y2: points.map(\.y).max()!)
    }

    /// Even-odd point-in-polygon test (the star and the cross are not convex).
    private static func inside(_ p: Point, _ polygon: [Point]) -> Bool {
        var result = false
        var j = polygon.count - 1
        for i in 0..<polygon.count {
            let a = polygon[i], b = polygon[j]
            if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x { result.toggle() }
            j = i
        }
        return result
    }

    /// Anti-aliased coverage of `object` on a `size`×`size` image: `samples`² points per pixel (1:
    /// hard, aliased edges), the shape stretched by `stretch` (x, y) about its centre.
    static func coverage(of object: SceneObject, imageSize size: Int, samples: Int = supersample,
                         stretch: (x: Double, y: Double) = (1, 1)) -> Coverage {
        let c0 = object.centre
        let b = stretch == (1, 1) ? object.box
            : Box(x1: c0.x + (object.box.x1 - c0.x) * stretch.x, y1: c0.y + (object.box.y1 - c0.y) * stretch.y,
                  x2: c0.x + (object.box.x2 - c0.x) * stretch.x, y2: c0.y + (object.box.y2 - c0.y) * stretch.y)
        let x0 = max(0, Int(b.x1.rounded(.down))), y0 = max(0, Int(b.y1.rounded(.down)))
        let x1 = min(size, Int(b.x2.rounded(.up))), y1 = min(size, Int(b.y2.rounded(.up)))
        let w = max(0, x1 - x0), h = max(0, y1 - y0)
        var polygon = outline(object.shape, radius: object.radius, centre: object.centre)
        if stretch != (1, 1) {
            polygon = polygon.map { Point(x: c0.x + ($0.x - c0.x) * stretch.x, y: c0.y + ($0.y - c0.y) * stretch.y) }
        }
        let n = samples, step = 1 / Double(n), weight = 1 / Float(n * n)
        let r2 = object.radius * object.radius
        var values = [Float](repeating: 0, count: w * h)
        for py in 0..<h {
            for px in 0..<w {
                var hits = 0
                for sy in 0..<n {
                    for sx in 0..<n {
                        let p = Point(x: Double(x0 + px) + (Double(sx) + 0.5) * step,
                                      y: Double(y0 + py) + (Double(sy) + 0.5) * step)
                        if polygon.isEmpty {
                            let dx = (p.x - c0.x) / stretch.x, dy = (p.y - c0.y) / stretch.y
                            if dx * dx + dy * dy <= r2 { hits += 1 }
                        } else if inside(p, polygon) {
                            hits += 1
                        }
                    }
                }
                values[py * w + px] = Float(hits) * weight
            }
        }
        return Coverage(x0: x0, y0: y0, width: w, height: h, values: values)
    }
}
