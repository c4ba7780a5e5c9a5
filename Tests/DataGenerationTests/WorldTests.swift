import DataGeneration
import Foundation
import Vision
import XCTest

final class WorldTests: XCTestCase {
    let world = try! WorldGenerator(configuration: WorldConfiguration(imageSize: 96))

    func testSameSeedGivesIdenticalSceneAndPNGBytes() throws {
        let a = world.scene(seed: 42), b = world.scene(seed: 42)
        XCTAssertEqual(a, b)
        XCTAssertEqual(try ImageEncoder.pngData(SceneRenderer.render(a)), try ImageEncoder.pngData(SceneRenderer.render(b)))
        XCTAssertNotEqual(world.scene(seed: 43), a)
    }

    func testPNGRoundTripsThroughTheDecoder() throws {
        let image = SceneRenderer.render(world.scene(seed: 5))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try ImageEncoder.writePNG(image, to: url)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: url), image)
    }

    func testScenesRespectTheWorldRules() {
        var objectCounts = [Int](repeating: 0, count: 6)
        var repeated = 0
        for seed in 0..<300 {
            let scene = world.scene(seed: UInt64(seed))
            XCTAssertTrue((1...5).contains(scene.objects.count), "seed \(seed): \(scene.objects.count) objects")
            objectCounts[scene.objects.count] += 1
            if scene.kindCounts.contains(where: { $0.count >= 2 }) { repeated += 1 }
            for o in scene.objects {
                XCTAssertGreaterThanOrEqual(o.visibleFraction, 0.6, "seed \(seed) \(o.kind.name)")
                XCTAssertTrue(o.box.x1 >= 0 && o.box.y1 >= 0 && o.box.x2 <= 96 && o.box.y2 <= 96, "seed \(seed) box \(o.box)")
            }
        }
        XCTAssertGreaterThan(repeated, 60, "scenes with 2+ of one kind: \(repeated)/300")
        XCTAssertTrue(objectCounts[1...5].allSatisfy { $0 > 10 }, "objects per scene: \(objectCounts)")
    }

    /// A contrast variant differs from its scene in exactly one thing and keeps every world rule.
    func testVariantsMakeOneMinimalEdit() {
        var edits: [String: Int] = [:]
        for seed in 0..<200 {
            let scene = world.scene(seed: UInt64(seed))
            guard let v = world.variant(of: scene, seed: UInt64(1000 + seed)) else { continue }
            XCTAssertEqual(v.background, scene.background)
            XCTAssertEqual(v.textureSeed, scene.textureSeed)
            for o in v.objects {
                XCTAssertGreaterThanOrEqual(o.visibleFraction, 0.6, "seed \(seed) \(o.kind.name)")
                XCTAssertTrue(o.box.x1 >= 0 && o.box.y1 >= 0 && o.box.x2 <= 96 && o.box.y2 <= 96, "seed \(seed) box \(o.box)")
            }
            let edit: String
            switch v.objects.count - scene.objects.count {
            case 1: edit = "add"
            case -1: edit = "remove"
            case 0:
                let changed = zip(scene.objects, v.objects).filter { $0.kind != $1.kind || $0.centre != $1.centre }
                XCTAssertEqual(changed.count, 1, "seed \(seed): \(changed.count) objects changed")
                guard let (a, b) = changed.first else { continue }
                if a.shape != b.shape { edit = "shape"; XCTAssertEqual(a.colour, b.colour); XCTAssertEqual(a.centre, b.centre) }
                else if a.colour != b.colour { edit = "colour"; XCTAssertEqual(a.centre, b.centre) }
                else {
                    edit = "move"
                    let r = { (p: Point) in Region(normalised: Point(x: p.x / 96, y: p.y / 96)) }
                    XCTAssertNotEqual(r(a.centre), r(b.centre), "seed \(seed): a move must change the region")
                }
            default: XCTFail("seed \(seed): object count \(scene.objects.count) → \(v.objects.count)"); continue
            }
            edits[edit, default: 0] += 1
        }
        XCTAssertEqual(Set(edits.keys), ["shape", "colour", "move", "add", "remove"], "\(edits)")
        XCTAssertGreaterThan(edits.values.reduce(0, +), 180, "\(edits)")
    }

    /// Grid layout: at most one object per cell, never in a corner cell, each about a cell wide,
    /// and variants keep to the grid too.
    func testGridLayoutPutsOneObjectPerNonCornerCell() throws {
        var configuration = WorldConfiguration(imageSize: 64)
        configuration.layout = .grid
        let grid = try WorldGenerator(configuration: configuration)
        let cell = 16.0
        var objects = 0
        for seed in 0..<200 {
            let scene = grid.scene(seed: UInt64(seed))
            let variant = grid.variant(of: scene, seed: UInt64(seed) + 500)
            for s in [scene] + (variant.map { [$0] } ?? []) {
                let cells = s.objects.map { Int($0.centre.y / cell) * 4 + Int($0.centre.x / cell) }
                XCTAssertEqual(Set(cells).count, cells.count, "seed \(seed): two objects share a cell")
                for (o, c) in zip(s.objects, cells) {
                    XCTAssertFalse([0, 3, 12, 15].contains(c), "seed \(seed): \(o.kind.name) in corner cell \(c)")
                    XCTAssertLessThanOrEqual(o.box.width, cell + 0.5, "seed \(seed): \(o.kind.name) box \(o.box)")
                    XCTAssertTrue(o.box.x1 >= 0 && o.box.y1 >= 0 && o.box.x2 <= 64 && o.box.y2 <= 64, "seed \(seed) box \(o.box)")
                    XCTAssertGreaterThanOrEqual(o.visibleFraction, 0.6)
                }
            }
            objects += scene.objects.count
        }
        XCTAssertGreaterThan(objects, 400, "objects in 200 grid scenes")
    }

    func testColourAtEachCentreIsTheObjectsColour() {
        for seed in 0..<100 {
            let scene = world.scene(seed: UInt64(seed))
            let image = SceneRenderer.render(scene)
            for o in scene.objects {
                let found = ObjectColour.nearest(to: image[Int(o.centre.x), Int(o.centre.y)])
                XCTAssertEqual(found, o.colour, "seed \(seed): \(o.kind.name) at \(o.centre)")
            }
        }
    }

    /// Pixels far from the background tone near an object must lie in some object's box, and
    /// each box is tight: its inner border rows hold the object's colour somewhere.
    func testBoxesContainTheObjectPixels() {
        for seed in 0..<60 {
            let scene = world.scene(seed: UInt64(seed))
            let image = SceneRenderer.render(scene)
            for y in 0..<96 {
                for x in 0..<96 {
                    let p = image[x, y]
                    let c = ObjectColour.nearest(to: p)
                    let rgb = c.rgb
                    let exact = abs(Int(p.0) - Int(rgb.0)) + abs(Int(p.1) - Int(rgb.1)) + abs(Int(p.2) - Int(rgb.2)) < 6
                    guard exact else { continue }   // background, or an anti-aliased edge
                    let inside = scene.objects.contains { o in
                        o.colour == c && Double(x) + 0.5 >= o.box.x1 && Double(x) + 0.5 <= o.box.x2
                            && Double(y) + 0.5 >= o.box.y1 && Double(y) + 0.5 <= o.box.y2
                    }
                    XCTAssertTrue(inside, "seed \(seed): \(c) pixel at (\(x), \(y)) outside every \(c) box")
                }
            }
        }
    }

    /// With an outline, a ring of pixels inside each object's edge turns darker while its
    /// centre keeps its colour; a width of 0 draws exactly the plain image; an out-of-range width is
    /// refused.
    func testOutlineDrawsADarkEdgeAroundTheFill() throws {
        for seed in 0..<30 {
            let scene = world.scene(seed: UInt64(seed))
            let plain = SceneRenderer.render(scene), outlined = SceneRenderer.render(scene, outline: 1.5)
            XCTAssertEqual(SceneRenderer.render(scene, outline: 0), plain)
            for o in scene.objects where o.visibleFraction == 1 {
                XCTAssertEqual(ObjectColour.nearest(to: outlined[Int(o.centre.x), Int(o.centre.y)]), o.colour, "seed \(seed): centre")
                guard o.colour != .black else { continue }
                // Pixels of the box that the outline made clearly darker.
                var ring = 0
                for y in Int(o.box.y1)..<min(96, Int(o.box.y2.rounded(.up))) {
                    for x in Int(o.box.x1)..<min(96, Int(o.box.x2.rounded(.up))) {
                        let p = outlined[x, y], q = plain[x, y]
                        let darker = Int(q.0) + Int(q.1) + Int(q.2) - Int(p.0) - Int(p.1) - Int(p.2)
                        if darker > 40 { ring += 1 }
                    }
                }
                XCTAssertGreaterThanOrEqual(ring, Int(o.radius), "seed \(seed): \(o.kind.name) radius \(o.radius)")
            }
        }
        var bad = WorldConfiguration(imageSize: 64)
        bad.outlineWidth = 4
        XCTAssertThrowsError(try WorldGenerator(configuration: bad)) { XCTAssertTrue("\($0)".contains("outlineWidth = 4"), "\($0)") }
    }

    func testSizesAndShapesAndColoursAllOccur() {
        var shapes = Set<Shape>(), colours = Set<ObjectColour>(), sizes = Set<ObjectSize>()
        for seed in 0..<200 {
            for o in world.scene(seed: UInt64(seed)).objects { shapes.insert(o.shape); colours.insert(o.colour); sizes.insert(o.size) }
        }
        XCTAssertEqual(shapes.count, Shape.allCases.count)
        XCTAssertEqual(colours.count, ObjectColour.allCases.count)
        XCTAssertEqual(sizes.count, 2)
    }

    func testInvalidImageSizeThrowsWithTheSetting() {
        XCTAssertThrowsError(try WorldGenerator(configuration: WorldConfiguration(imageSize: 32))) { error in
            XCTAssertTrue("\(error)".contains("imageSize = 32"), "\(error)")
        }
    }
}
