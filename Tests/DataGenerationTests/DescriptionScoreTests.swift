import DataGeneration
import Foundation
import XCTest

final class DescriptionScoreTests: XCTestCase {
    /// Pixel centres of the five regions in a 64-px image.
    private let at: [Region: (Double, Double)] = [.left: (8, 32), .right: (56, 32), .top: (32, 8), .bottom: (32, 56), .center: (32, 32)]

    private func scene(_ objects: [(ObjectSize, ObjectColour, Shape, Region)]) throws -> Scene {
        let json = objects.map { size, colour, shape, region in
            let (x, y) = at[region]!
            return """
            {"shape": "\(shape.rawValue)", "colour": "\(colour.rawValue)", "size": "\(size.rawValue)", "radius": 5, "visibleFraction": 1,
             "centre": {"x": \(x), "y": \(y)}, "box": {"x1": \(x - 5), "y1": \(y - 5), "x2": \(x + 5), "y2": \(y + 5)}}
            """
        }.joined(separator: ",")
        let text = "{\"size\": 64, \"background\": \"grey\", \"textureSeed\": 1, \"objects\": [\(json)]}"
        return try JSONDecoder().decode(Scene.self, from: Data(text.utf8))
    }

    func testParsesObjectsRegionsCountsAndRelations() {
        let parsed = DescriptionParser.parse("""
            The image shows 4 objects on a sage background. A small red star is on the right. \
            On the left is a big blue disc, and 2 green plus signs are at the top of the image. \
            The red star is to the right of the blue circle. The green crosses are above the blue circle.
            """)
        XCTAssertEqual(parsed.objects, [
            DescribedObject(colour: .red, shape: .star, size: .small, region: .right),
            DescribedObject(colour: .blue, shape: .circle, size: .large, region: .left),
            DescribedObject(colour: .green, shape: .cross, region: .top, count: 2),
        ])
        XCTAssertEqual(parsed.relations.map(\.relation), [.rightOf, .above])
        XCTAssertEqual(parsed.relations.map { $0.a.kind?.name }, ["red star", "green cross"])
        XCTAssertEqual(parsed.relations.map { $0.b.kind?.name }, ["blue circle", "blue circle"])
    }

    func testEachMentionTakesTheRegionAfterIt() {
        let parsed = DescriptionParser.parse("A red star is on the left and a blue square is in the middle; nothing else.")
        XCTAssertEqual(parsed.objects.map(\.region), [.left, .center])
        XCTAssertTrue(parsed.relations.isEmpty)
    }

    /// The failure of issue 26 on examples/scene.png (two red stars): one star described twice
    /// in the same place, and a relation of a star to itself.
    func testTheIssuesRepeatedDescriptionIsCaught() throws {
        let scene = try scene([(.small, .red, .star, .right), (.large, .red, .star, .left)])
        let score = DescriptionScore(description: "A small red star is on the right. A small red star is on the right. The red star is to the right of the red star.", scene: scene)
        XCTAssertEqual(score.named, 2)
        XCTAssertEqual(score.matched, 2)
        XCTAssertEqual(score.placedRight, 1, "the second naming took the star on the left")
        XCTAssertEqual(score.sizedRight, 1)
        XCTAssertTrue(score.repeated)
        XCTAssertTrue(score.selfRelation)
        XCTAssertEqual(score.relationsJudged, 0)
        XCTAssertEqual(score.f1, 1, accuracy: 1e-12, "(colour, shape) alone cannot tell the two namings from the two stars")
    }

    func testFaithfulDescriptionScoresFull() throws {
        let scene = try scene([(.small, .red, .star, .right), (.large, .blue, .circle, .left), (.small, .green, .cross, .top)])
        let score = DescriptionScore(description: """
            The image shows 3 objects on a grey background. A small green cross is at the top. A large blue circle is \
            on the left. A small red star is on the right. The blue circle is to the left of the red star.
            """, scene: scene)
        XCTAssertEqual([score.named, score.matched, score.objects, score.placedRight, score.sizedRight], [3, 3, 3, 3, 3])
        XCTAssertFalse(score.repeated)
        XCTAssertFalse(score.selfRelation)
        XCTAssertEqual([score.relationsJudged, score.relationsRight], [1, 1])
        XCTAssertEqual(score.f1, 1, accuracy: 1e-12)
    }

    /// A five-object scene where one object is named twice and another dropped, and one naming
    /// is of an object that is not there.
    func testDroppedRepeatedAndHallucinatedObjects() throws {
        let scene = try scene([(.small, .red, .star, .right), (.large, .blue, .circle, .left), (.small, .green, .cross, .top),
                               (.small, .white, .square, .bottom), (.large, .black, .triangle, .center)])
        let score = DescriptionScore(description: """
            A small red star is on the right. A large blue circle is on the left. A small white square is at the bottom. \
            A small white square is at the bottom. A yellow triangle is in the center. The red star is below the blue circle.
            """, scene: scene)
        XCTAssertEqual(score.named, 5)
        XCTAssertEqual(score.matched, 3)
        XCTAssertEqual(score.precision, 0.6, accuracy: 1e-12)
        XCTAssertEqual(score.recall, 0.6, accuracy: 1e-12)
        XCTAssertEqual(score.placedRight, 3)
        XCTAssertTrue(score.repeated)
        XCTAssertEqual([score.relationsJudged, score.relationsRight], [1, 0])

        var totals = DescriptionTotals()
        totals.add(score)
        totals.add(DescriptionScore(description: "A small red star is on the left.", scene: try self.scene([(.small, .red, .star, .right)])))
        XCTAssertEqual(totals.images, 2)
        XCTAssertEqual(totals.f1, (0.6 + 1) / 2, accuracy: 1e-12)
        XCTAssertEqual(totals.regionAccuracy, 3.0 / 4, accuracy: 1e-12)
        XCTAssertEqual(totals.noRepeatShare, 0.5, accuracy: 1e-12)
        XCTAssertEqual(totals.exactShare, 0.5, accuracy: 1e-12, "the second image's one star is named once (on the wrong side)")
        XCTAssertTrue(totals.table.contains("| object F1 | 80.0% | ≥ 95% |"), totals.table)
        // The JSON carries the counts and the metrics, and decodes back to the same totals.
        let json = try JSONEncoder().encode(totals)
        let object = try JSONSerialization.jsonObject(with: json) as? [String: Any]
        XCTAssertEqual((object?["f1"] as? Double) ?? 0, 0.8, accuracy: 1e-12)
        XCTAssertEqual((object?["noRepeatShare"] as? Double) ?? 0, 0.5, accuracy: 1e-12)
        XCTAssertEqual(try JSONDecoder().decode(DescriptionTotals.self, from: json), totals)
    }

    /// Misreads seen on the unseen drawing: each object is named once, one of them with a wrong
    /// colour, shape or size. Precision counts them; they are no repeated mention.
    func testAMisreadObjectNamedOnceIsNoRepeat() throws {
        let colour = DescriptionScore(description: "A large orange star is at the top. A small yellow star is in the center.",
                                      scene: try scene([(.large, .orange, .star, .top), (.small, .orange, .star, .center)]))
        XCTAssertFalse(colour.repeated)
        XCTAssertFalse(colour.exact)
        XCTAssertEqual(colour.precision, 0.5, accuracy: 1e-12)
        let shape = DescriptionScore(description: "A small black square is in the center. A small black square is on the right.",
                                     scene: try scene([(.small, .black, .square, .center), (.small, .black, .circle, .right)]))
        XCTAssertFalse(shape.repeated, "the square on the right is the black circle misread")
        let size = DescriptionScore(description: "A large blue cross is in the center. A large blue cross is in the center.",
                                    scene: try scene([(.large, .blue, .cross, .center), (.small, .blue, .cross, .center)]))
        XCTAssertFalse(size.repeated, "two crosses in the center, one of them sized wrong")
        XCTAssertEqual(size.sizedRight, 1)
        let invented = DescriptionScore(description: "A small red star is on the left. A small green circle is on the right.",
                                        scene: try scene([(.small, .red, .star, .left)]))
        XCTAssertFalse(invented.repeated, "a naming that fits no object is an invention")
        XCTAssertEqual(invented.precision, 0.5, accuracy: 1e-12)
        let faithful = DescriptionScore(description: "A small red star is on the left.", scene: try scene([(.small, .red, .star, .left)]))
        XCTAssertTrue(faithful.exact)
    }

    /// One object named twice in two places: the second naming fits no other object (nothing on
    /// the right shares its colour or shape), so it can only be the star again.
    func testAnObjectNamedAgainElsewhereIsARepeat() throws {
        let scene = try scene([(.small, .red, .star, .left), (.small, .blue, .circle, .right)])
        let score = DescriptionScore(description: "A small red star is on the left. A small red star is on the right.", scene: scene)
        XCTAssertTrue(score.repeated)
        XCTAssertEqual([score.named, score.matched], [2, 1])
        let misread = DescriptionScore(description: "A small red star is on the left. A small red circle is on the right.", scene: scene)
        XCTAssertFalse(misread.repeated, "the red circle on the right is the blue circle with its colour misread")
    }

    func testEmptyOrColourlessDescriptionNamesNothing() throws {
        let scene = try scene([(.small, .red, .star, .right)])
        let score = DescriptionScore(description: "There is a star. It is on the right.", scene: scene)
        XCTAssertEqual([score.named, score.matched], [0, 0])
        XCTAssertEqual(score.f1, 0)
        XCTAssertFalse(score.repeated)
    }
}
