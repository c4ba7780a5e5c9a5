// The synthetic visual world: a few flat shapes on a muted, textured background.
//
// Coordinates: pixels, origin at the top-left corner, x to the right, y down. "Normalised"
// divides by the image side, so (0, 0) is the top-left corner and (1, 1) the bottom-right.
// An object's `centre` is the centre of its bounding box.

/// The shapes of the world. Raw values are the canonical words used everywhere (categories,
/// captions, answers).
public enum Shape: String, Codable, Sendable, CaseIterable {
    case circle, square, triangle, star, cross

    /// Plural used in counts ("3 crosses").
    public var plural: String { self == .cross ? "crosses" : rawValue + "s" }
}

/// Object colours, far apart in RGB so the nearest palette colour is never in doubt.
public enum ObjectColour: String, Codable, Sendable, CaseIterable {
    case red, green, blue, yellow, purple, orange, white, black

    public var rgb: (UInt8, UInt8, UInt8) {
        switch self {
        case .red: return (220, 30, 30)
        case .green: return (30, 170, 50)
        case .blue: return (30, 70, 225)
        case .yellow: return (245, 220, 30)
        case .purple: return (140, 40, 175)
        case .orange: return (250, 135, 20)
        case .white: return (250, 250, 250)
        case .black: return (15, 15, 15)
        }
    }

    /// The palette colour closest to `rgb` (squared Euclidean distance).
    public static func nearest(to rgb: (UInt8, UInt8, UInt8)) -> ObjectColour {
        func d(_ c: ObjectColour) -> Int {
            let p = c.rgb
            let dr = Int(p.0) - Int(rgb.0), dg = Int(p.1) - Int(rgb.1), db = Int(p.2) - Int(rgb.2)
            return dr * dr + dg * dg + db * db
        }
        return allCases.min { d($0) < d($1) }!
    }
}

public enum ObjectSize: String, Codable, Sendable, CaseIterable {
    case small, large
}

/// A colour + shape pair: the unit of categories, counts and questions ("red circle").
public struct ObjectKind: Hashable, Codable, Sendable, Comparable {
    public var colour: ObjectColour
    public var shape: Shape
    public init(colour: ObjectColour, shape: Shape) { self.colour = colour; self.shape = shape }

    /// "red circle"
    public var name: String { "\(colour.rawValue) \(shape.rawValue)" }
    /// "red circles"
    public var pluralName: String { "\(colour.rawValue) \(shape.plural)" }

    /// All 40 kinds in a fixed order; the COCO category id is the index + 1.
    public static let all: [ObjectKind] = ObjectColour.allCases.flatMap { c in Shape.allCases.map { ObjectKind(colour: c, shape: $0) } }
    public var categoryID: Int { ObjectKind.all.firstIndex(of: self)! + 1 }

    public static func < (a: ObjectKind, b: ObjectKind) -> Bool { a.categoryID < b.categoryID }
}

public struct Point: Codable, Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// An axis-aligned box by its corners.
public struct Box: Codable, Sendable, Equatable {
    public var x1: Double, y1: Double, x2: Double, y2: Double
    public init(x1: Double, y1: Double, x2: Double, y2: Double) { self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2 }
    public var width: Double { x2 - x1 }
    public var height: Double { y2 - y1 }
    public var centre: Point { Point(x: (x1 + x2) / 2, y: (y1 + y2) / 2) }
    public func scaled(by s: Double) -> Box { Box(x1: x1 * s, y1: y1 * s, x2: x2 * s, y2: y2 * s) }
}

/// One object with its ground truth.
public struct SceneObject: Codable, Sendable, Equatable {
    public var shape: Shape
    public var colour: ObjectColour
    public var size: ObjectSize
    /// Circumradius of the shape in pixels.
    public var radius: Double
    /// Centre of the bounding box, in pixels.
    public var centre: Point
    /// Tight box of the whole shape (occluded parts included), in pixels.
    public var box: Box
    /// Fraction of the shape left visible by the objects drawn after it (≥ 0.6).
    public var visibleFraction: Double

    public var kind: ObjectKind { ObjectKind(colour: colour, shape: shape) }
}

/// One image of the world: objects in drawing order (later ones on top).
public struct Scene: Codable, Sendable, Equatable {
    /// Width and height in pixels (images are square).
    public var size: Int
    public var background: Background
    public var objects: [SceneObject]
    /// Seed of the background texture.
    public var textureSeed: UInt64

    public func normalisedCentre(_ o: SceneObject) -> Point { Point(x: o.centre.x / Double(size), y: o.centre.y / Double(size)) }
    public func normalisedBox(_ o: SceneObject) -> Box { o.box.scaled(by: 1 / Double(size)) }

    /// How many objects of each kind, in category order.
    public var kindCounts: [(kind: ObjectKind, count: Int)] {
        var counts: [ObjectKind: Int] = [:]
        for o in objects { counts[o.kind, default: 0] += 1 }
        return counts.keys.sorted().map { ($0, counts[$0]!) }
    }
}

/// Muted background tones, named with words that are not object colours.
public enum Background: String, Codable, Sendable, CaseIterable {
    case grey, beige, sage, slate, sand, taupe

    public var rgb: (UInt8, UInt8, UInt8) {
        switch self {
        case .grey: return (128, 128, 128)
        case .beige: return (200, 188, 160)
        case .sage: return (148, 168, 140)
        case .slate: return (108, 118, 134)
        case .sand: return (188, 168, 128)
        case .taupe: return (140, 124, 114)
        }
    }
}
