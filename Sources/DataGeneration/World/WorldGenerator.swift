import Tensor

/// Errors in world or data-set settings; each names the setting and the value found.
public enum DataGenerationError: Error, CustomStringConvertible, Equatable {
    case invalidSetting(name: String, value: String, expected: String)
    case malformedFile(file: String, reason: String)

    public var description: String {
        switch self {
        case .invalidSetting(let name, let value, let expected): return "\(name) = \(value): expected \(expected)"
        case .malformedFile(let file, let reason): return "\(file): \(reason)"
        }
    }
}

/// Settings of the synthetic world.
public struct WorldConfiguration: Sendable, Equatable {
    /// Image side in pixels (64…128).
    public var imageSize = 96
    /// Objects per scene (1…maxObjects).
    public var maxObjects = 5
    /// Every object keeps at least this fraction of its area visible.
    public var minimumVisibleFraction = 0.6
    /// Chance that a scene is built around 2–4 copies of one kind, so counting is learnt.
    public var repeatedKindChance = 0.4
    /// Multiplies every object's radius (1: small objects span about 1/6 of the image, large about 1/3).
    public var objectScale = 1.0
    /// Where objects may stand.
    public var layout = SceneLayout.free
    /// A dark outline inside each object's edge: the fill's radius is this many pixels smaller (0: none).
    public var outlineWidth = 0.0

    public init(imageSize: Int = 96) { self.imageSize = imageSize }

    public func validate() throws {
        guard (64...128).contains(imageSize) else {
            throw DataGenerationError.invalidSetting(name: "imageSize", value: "\(imageSize)", expected: "64...128")
        }
        guard (0.5...2).contains(objectScale) else {
            throw DataGenerationError.invalidSetting(name: "objectScale", value: "\(objectScale)", expected: "0.5...2")
        }
        guard (0...3).contains(outlineWidth) else {
            throw DataGenerationError.invalidSetting(name: "outlineWidth", value: "\(outlineWidth)", expected: "0...3")
        }
        guard (1...5).contains(maxObjects) else {
            throw DataGenerationError.invalidSetting(name: "maxObjects", value: "\(maxObjects)", expected: "1...5")
        }
    }
}

/// Where objects may stand. `free`: anywhere in the image. `grid`: one object per cell of a 4×4
/// grid (corner cells excluded, so every object's region — left, right, top, bottom, center — is
/// unambiguous), jittered within its cell and sized to about one cell, so a vision transformer with
/// patches of a quarter of the image sees each object within about one patch.
public enum SceneLayout: String, Sendable, Equatable, CaseIterable {
    case free, grid

    public static let gridCells = 4
}

/// Samples scenes: which objects, then where, rejecting placements that hide too much.
///
/// ```swift
/// let world = try WorldGenerator(configuration: WorldConfiguration(imageSize: 96))
/// let scene = world.scene(seed: 7)
/// let image = SceneRenderer.render(scene)
/// ```
public struct WorldGenerator: Sendable {
    public let configuration: WorldConfiguration

    public init(configuration: WorldConfiguration = WorldConfiguration()) throws {
        try configuration.validate()
        self.configuration = configuration
    }

    /// The scene for one seed (the same seed always gives the same scene).
    public func scene(seed: UInt64) -> Scene {
        var rng = SplitMix64(seed: seed)
        let background = rng.pick(Background.allCases)
        let plan = planObjects(&rng)
        var placer = Placer(configuration)
        for (kind, size) in plan { placer.place(kind: kind, size: size, rng: &rng) }
        return Scene(size: configuration.imageSize, background: background, objects: placer.objects(),
                     textureSeed: rng.next())
    }

    /// A minimal edit of `scene` for contrast sets: one object changes shape, changes colour or
    /// moves to another region, or one object is added or removed; background, texture and every
    /// other object stay as they were. Nil when no edit keeps the placement invariants.
    public func variant(of scene: Scene, seed: UInt64) -> Scene? {
        var rng = SplitMix64(seed: seed)
        let side = Double(scene.size)
        let geometry = Placer(configuration)
        for _ in 0..<Placer.attempts {
            var objects = scene.objects
            let i = rng.int(in: 0...(objects.count - 1))
            switch rng.pick(SceneEdit.allCases) {
            case .shape:
                objects[i].shape = rng.pick(Shape.allCases.filter { $0 != objects[i].shape })
            case .colour:
                objects[i].colour = rng.pick(ObjectColour.allCases.filter { $0 != objects[i].colour })
            case .move:
                let centre = geometry.randomCentre(radius: objects[i].radius, rng: &rng)
                let region = { (p: Point) in Region(normalised: Point(x: p.x / side, y: p.y / side)) }
                guard region(centre) != region(objects[i].centre) else { continue }
                objects[i].centre = centre
            case .add:
                guard objects.count < configuration.maxObjects else { continue }
                // Half the time another copy of a kind already there, so counts change.
                let kind = rng.chance(0.5) ? objects[i].kind : rng.pick(ObjectKind.all)
                let size: ObjectSize = rng.chance(0.5) ? .large : .small
                let radius = geometry.randomRadius(size, rng: &rng)
                let centre = geometry.randomCentre(radius: radius, rng: &rng)
                objects.append(SceneObject(shape: kind.shape, colour: kind.colour, size: size, radius: radius, centre: centre,
                                           box: ShapeGeometry.box(kind.shape, radius: radius, centre: centre), visibleFraction: 1))
            case .remove:
                guard objects.count > 1 else { continue }
                objects.remove(at: i)
            }
            var placer = Placer(configuration)
            if objects.allSatisfy({ placer.add(kind: $0.kind, size: $0.size, radius: $0.radius, centre: $0.centre) }) {
                return Scene(size: scene.size, background: scene.background, objects: placer.objects(), textureSeed: scene.textureSeed)
            }
        }
        return nil
    }

    /// Kinds and sizes of the objects to place.
    private func planObjects(_ rng: inout SplitMix64) -> [(ObjectKind, ObjectSize)] {
        var kinds: [ObjectKind] = []
        if rng.chance(configuration.repeatedKindChance) {
            let kind = rng.pick(ObjectKind.all)
            let n = rng.int(in: 2...min(4, configuration.maxObjects))
            kinds = Array(repeating: kind, count: n)
            for _ in 0..<rng.int(in: 0...min(1, configuration.maxObjects - n)) { kinds.append(rng.pick(ObjectKind.all)) }
            rng.shuffle(&kinds)
        } else {
            kinds = (0..<rng.int(in: 1...configuration.maxObjects)).map { _ in rng.pick(ObjectKind.all) }
        }
        // Crowded scenes get mostly small objects so they still fit.
        let largeChance = kinds.count >= 4 ? 0.3 : 0.5
        return kinds.map { ($0, rng.chance(largeChance) ? .large : .small) }
    }
}

/// The one change a contrast variant makes.
enum SceneEdit: CaseIterable { case shape, colour, move, add, remove }

/// Places objects one at a time, keeping the visibility invariants of every earlier object.
private struct Placer {
    let size: Int
    let minimumVisible: Double
    let scale: Double
    let layout: SceneLayout
    var placed: [(object: SceneObject, coverage: Coverage, remaining: [Float])] = []
    static let attempts = 200

    init(_ c: WorldConfiguration) {
        size = c.imageSize; minimumVisible = c.minimumVisibleFraction; scale = c.objectScale; layout = c.layout
    }

    var cell: Double { Double(size) / Double(SceneLayout.gridCells) }

    /// A circumradius in pixels: a fraction of the image side (free) or of the cell (grid).
    func randomRadius(_ objectSize: ObjectSize, rng: inout SplitMix64) -> Double {
        switch layout {
        case .free:
            let (lo, hi) = objectSize == .small ? (0.075, 0.095) : (0.14, 0.17)
            return rng.uniform(lo, hi) * scale * Double(size)
        case .grid:
            let (lo, hi) = objectSize == .small ? (0.28, 0.33) : (0.40, 0.45)
            return rng.uniform(lo, hi) * scale * cell
        }
    }

    /// A centre that keeps the shape (box within 1 px of the border) inside the image; on the
    /// grid, a non-corner cell's centre jittered by up to an eighth of a cell.
    func randomCentre(radius: Double, rng: inout SplitMix64) -> Point {
        let side = Double(size)
        let clamp = { (v: Double) in min(max(v, radius + 1), side - radius - 1) }
        switch layout {
        case .free:
            return Point(x: rng.uniform(radius + 1, side - radius - 1), y: rng.uniform(radius + 1, side - radius - 1))
        case .grid:
            let n = SceneLayout.gridCells
            let cells = (0..<(n * n)).filter { i in !((i % n == 0 || i % n == n - 1) && (i / n == 0 || i / n == n - 1)) }
            let c = rng.pick(cells)
            let j = cell / 8
            return Point(x: clamp((Double(c % n) + 0.5) * cell + rng.uniform(-j, j)),
                         y: clamp((Double(c / n) + 0.5) * cell + rng.uniform(-j, j)))
        }
    }

    func gridCell(_ p: Point) -> Int { Int(p.y / cell) * SceneLayout.gridCells + Int(p.x / cell) }

    mutating func place(kind: ObjectKind, size objectSize: ObjectSize, rng: inout SplitMix64) {
        for _ in 0..<Placer.attempts {
            let radius = randomRadius(objectSize, rng: &rng)
            if add(kind: kind, size: objectSize, radius: radius, centre: randomCentre(radius: radius, rng: &rng)) { return }
        }
        // No room: the scene simply has one object fewer.
    }

    /// Adds the object if it keeps every invariant; returns whether it did.
    mutating func add(kind: ObjectKind, size objectSize: ObjectSize, radius: Double, centre: Point) -> Bool {
        let box = ShapeGeometry.box(kind.shape, radius: radius, centre: centre)
        let candidate = SceneObject(shape: kind.shape, colour: kind.colour, size: objectSize, radius: radius,
                                    centre: centre, box: box, visibleFraction: 1)
        let coverage = ShapeGeometry.coverage(of: candidate, imageSize: size)
        guard accepts(candidate, coverage) else { return false }
        for i in placed.indices { occlude(i, by: coverage) }
        placed.append((candidate, coverage, [Float](repeating: 1, count: coverage.values.count)))
        return true
    }

    /// Same-colour objects never touch (two red circles must not merge into one blob); every
    /// earlier object keeps its centre pixel and `minimumVisible` of its area.
    private func accepts(_ candidate: SceneObject, _ coverage: Coverage) -> Bool {
        for (object, cov, remaining) in placed {
            if layout == .grid && gridCell(object.centre) == gridCell(candidate.centre) { return false }
            if object.colour == candidate.colour {
                let a = object.box, b = candidate.box
                if a.x1 - 2 < b.x2 && b.x1 - 2 < a.x2 && a.y1 - 2 < b.y2 && b.y1 - 2 < a.y2 { return false }
            }
            if coverage.at(x: Int(object.centre.x), y: Int(object.centre.y)) > 0 { return false }
            if visibleFraction(cov, remaining, extra: coverage) < minimumVisible { return false }
        }
        return true
    }

    private func visibleFraction(_ cov: Coverage, _ remaining: [Float], extra: Coverage?) -> Double {
        var visible: Float = 0
        for y in 0..<cov.height {
            for x in 0..<cov.width {
                let i = y * cov.width + x
                let hidden = extra?.at(x: cov.x0 + x, y: cov.y0 + y) ?? 0
                visible += cov.values[i] * remaining[i] * (1 - hidden)
            }
        }
        return Double(visible / max(cov.total, 1e-6))
    }

    private mutating func occlude(_ i: Int, by coverage: Coverage) {
        let cov = placed[i].coverage
        for y in 0..<cov.height {
            for x in 0..<cov.width {
                placed[i].remaining[y * cov.width + x] *= 1 - coverage.at(x: cov.x0 + x, y: cov.y0 + y)
            }
        }
    }

    func objects() -> [SceneObject] {
        placed.map { entry in
            var o = entry.object
            o.visibleFraction = visibleFraction(entry.coverage, entry.remaining, extra: nil)
            return o
        }
    }
}
