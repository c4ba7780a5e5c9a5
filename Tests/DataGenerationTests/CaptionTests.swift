import DataGeneration
import XCTest

final class CaptionTests: XCTestCase {
    func testEveryCaptionNamesEveryObjectsColourAndShape() throws {
        let world = try WorldGenerator()
        for seed in 0..<200 {
            let scene = world.scene(seed: UInt64(seed))
            let captions = CaptionWriter.captions(for: scene, seed: UInt64(seed))
            XCTAssertEqual(captions.count, 5)
            XCTAssertEqual(Set(captions).count, 5, "seed \(seed): repeated captions \(captions)")
            for caption in captions {
                let facts = SceneFacts(parsingContext: caption)
                XCTAssertEqual(Set(facts.counts.keys), Set(scene.objects.map(\.kind)), "seed \(seed): \(caption)")
            }
        }
    }

    /// Parsing all five captions recovers the exact counts, and the regions and relations they
    /// state agree with the ground truth.
    func testCaptionsParseBackToTheGroundTruth() throws {
        let world = try WorldGenerator()
        for seed in 0..<200 {
            let scene = world.scene(seed: UInt64(seed))
            let truth = SceneFacts(scene: scene)
            let parsed = SceneFacts(parsingContext: CaptionWriter.captions(for: scene, seed: 9).joined(separator: "\n"))
            XCTAssertEqual(parsed.counts, truth.counts, "seed \(seed)")
            XCTAssertEqual(parsed.regions, truth.regions, "seed \(seed)")
            for r in parsed.relations { XCTAssertTrue(truth.relations.contains(r), "seed \(seed): \(r)") }
            XCTAssertEqual(parsed.background, scene.background.rawValue)
        }
    }
}
