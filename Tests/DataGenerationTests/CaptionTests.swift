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
            // Four captions name every kind; the shapes caption names every shape and no colour,
            // so the teacher's parser reads no kind from it.
            var shapeCaptions = 0
            for caption in captions {
                let facts = SceneFacts(parsingContext: caption)
                let words = Set(EvalQuestions.normalisedWords(caption))
                if facts.counts.isEmpty {
                    shapeCaptions += 1
                    XCTAssertTrue(words.isDisjoint(with: ObjectColour.allCases.map(\.rawValue)), "seed \(seed): \(caption)")
                    XCTAssertEqual(words.intersection(Shape.allCases.map(\.rawValue)), Set(scene.objects.map(\.shape.rawValue)),
                                   "seed \(seed): \(caption)")
                } else {
                    XCTAssertEqual(Set(facts.counts.keys), Set(scene.objects.map(\.kind)), "seed \(seed): \(caption)")
                }
            }
            XCTAssertEqual(shapeCaptions, 1, "seed \(seed): \(captions)")
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
