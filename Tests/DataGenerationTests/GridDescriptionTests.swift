import DataGeneration
import Foundation
import XCTest

final class GridDescriptionTests: XCTestCase {
    private func gridScenes(_ n: Int) throws -> [String: Scene] {
        var configuration = WorldConfiguration(imageSize: 64)
        configuration.layout = .grid
        let world = try WorldGenerator(configuration: configuration)
        return Dictionary(uniqueKeysWithValues: (1...n).map { (String($0), world.scene(seed: UInt64($0))) })
    }

    /// On grid scenes the walk names every object once, in its region, with its size: the
    /// description metric's targets are met exactly, and the text is what the walk promises.
    func testGridWalkScoresFullMarks() throws {
        var totals = DescriptionTotals()
        for (_, scene) in try gridScenes(200) {
            let text = GridDescription.describe(scene)
            let score = DescriptionScore(description: text, scene: scene)
            XCTAssertEqual(score.f1, 1, text)
            XCTAssertFalse(score.repeated, text)
            XCTAssertEqual(score.placedRight, scene.objects.count, text)
            XCTAssertEqual(score.sizedRight, scene.objects.count, text)
            XCTAssertEqual(score.relationsJudged, 0, text)
            totals.add(score)
            // The grid's corners are empty and left out; every other cell is named once, in order.
            let cells = ["12", "13", "21", "22", "23", "24", "31", "32", "33", "34", "42", "43"]
            let written = text.split(separator: ":")[1].split(separator: ",").map { String($0.split(separator: " ")[0]) }
            XCTAssertEqual(written, cells, text)
        }
        XCTAssertEqual(totals.images, 200)
    }

    /// The wording, on a scene built by hand: cells in reading order, empty ones as "no".
    func testWording() throws {
        let json = """
        {"size": 64, "background": "sage", "textureSeed": 1, "objects": [
         {"shape": "star", "colour": "red", "size": "small", "radius": 5, "visibleFraction": 1,
          "centre": {"x": 40, "y": 8}, "box": {"x1": 35, "y1": 3, "x2": 45, "y2": 13}},
         {"shape": "circle", "colour": "blue", "size": "large", "radius": 7, "visibleFraction": 1,
          "centre": {"x": 27, "y": 28}, "box": {"x1": 20, "y1": 21, "x2": 34, "y2": 35}}]}
        """
        let scene = try JSONDecoder().decode(Scene.self, from: Data(json.utf8))
        XCTAssertEqual(GridDescription.describe(scene), """
            The image shows 2 objects on a sage background. Cells by row and column: \
            12 no, 13 a small red star at the top, 21 no, 22 a large blue circle in the center, 23 no, 24 no, \
            31 no, 32 no, 33 no, 34 no, 42 no, 43 no.
            """)
    }

    /// One single-turn record per scene, in id order, with a seeded request from the list.
    func testRecords() throws {
        let scenes = try gridScenes(12)
        let records = GridDescription.records(scenes: scenes, imagePrefix: "train/", seed: 3)
        XCTAssertEqual(records.map(\.image), (1...12).map { "train/\($0).png" })
        XCTAssertEqual(records.map(\.id), (1...12).map { "describe-train/\($0)" })
        for (record, id) in zip(records, 1...12) {
            XCTAssertEqual(record.conversations.count, 2)
            XCTAssertTrue(record.conversations[0].value.hasPrefix("<image>\n"))
            XCTAssertTrue(GridDescription.requests.contains(String(record.conversations[0].value.dropFirst(8))))
            XCTAssertEqual(record.conversations[1].value, GridDescription.describe(scenes[String(id)]!))
        }
        XCTAssertEqual(records, GridDescription.records(scenes: scenes, imagePrefix: "train/", seed: 3))
        XCTAssertNotEqual(records.map { $0.conversations[0].value }, GridDescription.records(scenes: scenes, imagePrefix: "train/", seed: 4).map { $0.conversations[0].value })
    }

    /// The description goes into each conversation after 1 to all of its questions, never between
    /// a question and its follow-up, with every question kept in order around it.
    func testDescriptionInsideTheConversation() throws {
        let scenes = try gridScenes(60)
        let sets = ShortAnswerVQA.questionSets(scenes: scenes, questionsPerImage: 8, seed: 2, followUps: true)
        var places = Set<Int>()
        for (index, set) in sets.enumerated() {
            let record = ShortAnswerVQA.record(set, imagePrefix: "train/", style: .objectFirstRelation)
            let described = GridDescription.insertingDescription(into: record, scene: scenes[set.id]!, index: index, seed: 5)
            XCTAssertEqual(described, GridDescription.insertingDescription(into: record, scene: scenes[set.id]!, index: index, seed: 5))
            XCTAssertEqual(described.conversations.count, record.conversations.count + 2)
            let at = try XCTUnwrap(described.conversations.firstIndex { GridDescription.requests.contains($0.value) })
            XCTAssertEqual(at % 2, 0)
            XCTAssertGreaterThanOrEqual(at, 2)
            XCTAssertEqual(described.conversations[at + 1].value, GridDescription.describe(scenes[set.id]!))
            var rest = described.conversations
            rest.removeSubrange(at...(at + 1))
            XCTAssertEqual(rest, record.conversations)
            if at + 2 < described.conversations.count {
                XCTAssertFalse(described.conversations[at + 2].value.hasPrefix("And "), described.conversations[at + 2].value)
            }
            places.insert(at / 2)
        }
        XCTAssertTrue(places.contains(1) && places.count >= 6, "\(places)")
        XCTAssertTrue(sets.contains { $0.questions.contains { $0.question == FollowUpConversations.colourFollowUp } })
    }
}
