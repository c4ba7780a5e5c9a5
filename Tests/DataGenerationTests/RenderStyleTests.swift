import DataGeneration
import Foundation
import TestSupport
import Vision
import XCTest

final class RenderStyleTests: XCTestCase {
    private func gridWorld() throws -> WorldGenerator {
        var configuration = WorldConfiguration(imageSize: 64)
        configuration.layout = .grid
        configuration.outlineWidth = 1.5
        return try WorldGenerator(configuration: configuration)
    }

    private func differingPixels(_ a: RGBImage, _ b: RGBImage) -> Int {
        var n = 0
        for y in 0..<a.height { for x in 0..<a.width where a[x, y] != b[x, y] { n += 1 } }
        return n
    }

    /// The plain preset is the renderer as it was; every style draws the same scene the same way
    /// twice, and each setting on its own changes pixels.
    func testStylesAreSeededAndEachSettingChangesPixels() throws {
        let world = try gridWorld()
        let scene = world.scene(seed: 3)
        let plain = SceneRenderer.render(scene, outline: 1.5)
        XCTAssertEqual(SceneRenderer.render(scene, style: try RenderStyle.preset("plain", outlineWidth: 1.5)), plain)
        for name in ["varied", "unseen", "wide"] {
            let style = try RenderStyle.preset(name, outlineWidth: 1.5)
            XCTAssertEqual(SceneRenderer.render(scene, style: style), SceneRenderer.render(scene, style: style), name)
            XCTAssertGreaterThan(differingPixels(SceneRenderer.render(scene, style: style), plain), 500, name)
        }
        var settings: [(String, RenderStyle)] = []
        var s = RenderStyle(outlineWidth: 1.5); s.antiAliasSamples = [1]; settings.append(("no anti-aliasing", s))
        s = RenderStyle(outlineWidth: 1.5); s.outlineWidth = 2.5...2.5; settings.append(("outline", s))
        s = RenderStyle(outlineWidth: 1.5); s.texture = 2...2; settings.append(("texture", s))
        s = RenderStyle(outlineWidth: 1.5); s.gradient = 30...30; settings.append(("gradient", s))
        s = RenderStyle(outlineWidth: 1.5); s.sizeJitter = -0.1; settings.append(("size", s))
        s = RenderStyle(outlineWidth: 1.5); s.aspectJitter = -0.1; settings.append(("aspect", s))
        for (name, style) in settings {
            XCTAssertGreaterThan(differingPixels(SceneRenderer.render(scene, style: style), plain), 20, name)
        }
    }

    /// The plain style draws exactly what the renderer drew before styles existed: examples/scene.png
    /// is test image 4 of the built-in model's world (scripts/make_default_model.sh: seed 1, 64 px,
    /// grid layout, outline 1.5; the test split is not given contrast variants), written before
    /// `RenderStyle` existed.
    func testPlainStyleRedrawsTheShippedExampleImage() throws {
        var configuration = WorldConfiguration(imageSize: 64)
        configuration.layout = .grid
        configuration.outlineWidth = 1.5
        let writer = try SynthDatasetWriter(output: FileManager.default.temporaryDirectory, seed: 1, configuration: configuration)
        let test = SplitSpec.standard(train: 2500, val: 20, test: 200)[2]
        let scene = writer.scene(test, index: 3)
        let shipped = try ImageDecoder.decode(contentsOf: Fixtures.packageRoot.appendingPathComponent("examples/scene.png"))
        let drawn = SceneRenderer.render(scene, style: try RenderStyle.preset("plain", outlineWidth: 1.5))
        XCTAssertEqual([drawn.width, drawn.height], [shipped.width, shipped.height])
        XCTAssertEqual(differingPixels(drawn, shipped), 0)
        XCTAssertEqual(drawn, shipped)
    }

    /// The training styles never draw with a setting of the unseen test style: `varied` lies below
    /// it on every setting and `wide` above it on every setting but anti-aliasing.
    func testTrainingStylesAvoidTheUnseenSettings() throws {
        let unseen = try RenderStyle.preset("unseen", outlineWidth: 1.5)
        let varied = try RenderStyle.preset("varied", outlineWidth: 1.5)
        let wide = try RenderStyle.preset("wide", outlineWidth: 1.5)
        for style in [varied, wide] {
            XCTAssertTrue(Set(style.antiAliasSamples).isDisjoint(with: unseen.antiAliasSamples))
            XCTAssertFalse(style.outlineWidth.overlaps(unseen.outlineWidth))
            XCTAssertFalse(style.texture.overlaps(unseen.texture))
            XCTAssertFalse(style.gradient.overlaps(unseen.gradient))
        }
        XCTAssertLessThan(varied.outlineWidth.upperBound, unseen.outlineWidth.lowerBound)
        XCTAssertGreaterThan(wide.outlineWidth.lowerBound, unseen.outlineWidth.upperBound)
        XCTAssertGreaterThan(wide.texture.lowerBound, unseen.texture.upperBound)
        XCTAssertGreaterThan(wide.gradient.lowerBound, unseen.gradient.upperBound)
        // Jitter magnitudes: varied up to 8%, unseen 9.96–12%, wide 16.6–20%.
        XCTAssertLessThan(varied.sizeJitter, 0.83 * -unseen.sizeJitter)
        XCTAssertGreaterThan(0.83 * -wide.sizeJitter, -unseen.sizeJitter)
        XCTAssertGreaterThan(0.83 * -wide.aspectJitter, -unseen.aspectJitter)
    }

    /// Drawn in the unseen and wide styles, each object's centre still has its colour.
    func testUnseenStyleKeepsObjectsReadable() throws {
        let world = try gridWorld()
        for name in ["unseen", "wide"] {
        let style = try RenderStyle.preset(name, outlineWidth: 1.5)
        for seed in 0..<40 {
            let scene = world.scene(seed: UInt64(seed))
            let image = SceneRenderer.render(scene, style: style)
            for o in scene.objects where o.visibleFraction == 1 {
                XCTAssertEqual(ObjectColour.nearest(to: image[Int(o.centre.x), Int(o.centre.y)]), o.colour, "\(name) seed \(seed) \(o.kind.name)")
            }
        }
        }
    }

    func testBadStylesAreRefused() {
        XCTAssertThrowsError(try RenderStyle.preset("fancy", outlineWidth: 1))
        var s = RenderStyle(); s.antiAliasSamples = [0]
        XCTAssertThrowsError(try s.validate())
        s = RenderStyle(); s.sizeJitter = 0.5
        XCTAssertThrowsError(try s.validate())
    }

    /// The data set writer draws the same scenes and questions in another style: only pixels differ.
    func testWriterDrawsTheSameScenesInAnotherStyle() throws {
        var configuration = WorldConfiguration(imageSize: 64)
        configuration.layout = .grid
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("style-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        var files: [String: Data] = [:]
        for name in ["plain", "unseen"] {
            var writer = try SynthDatasetWriter(output: base.appendingPathComponent(name), seed: 1, configuration: configuration)
            writer.renderStyle = try RenderStyle.preset(name, outlineWidth: 0)
            try writer.write([SplitSpec(name: "test", count: 3, streamIndex: 2)])
            for f in ["scenes_test.json", "eval_test.jsonl", "relations_test.jsonl", "images/test/1.png"] {
                files[name + "/" + f] = try Data(contentsOf: base.appendingPathComponent(name).appendingPathComponent(f))
            }
        }
        XCTAssertEqual(files["plain/scenes_test.json"], files["unseen/scenes_test.json"])
        XCTAssertEqual(files["plain/eval_test.jsonl"], files["unseen/eval_test.jsonl"])
        XCTAssertEqual(files["plain/relations_test.jsonl"], files["unseen/relations_test.jsonl"])
        XCTAssertNotEqual(files["plain/images/test/1.png"], files["unseen/images/test/1.png"])
    }
}
