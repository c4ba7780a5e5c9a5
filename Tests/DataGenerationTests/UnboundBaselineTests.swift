import DataGeneration
import Foundation
import XCTest

final class UnboundBaselineTests: XCTestCase {
    private func scene(_ objects: [(Shape, ObjectColour)]) throws -> Scene {
        let json = objects.map { shape, colour in
            """
            {"shape": "\(shape.rawValue)", "colour": "\(colour.rawValue)", "size": "small", "radius": 5, "visibleFraction": 1,
             "centre": {"x": 10, "y": 10}, "box": {"x1": 5, "y1": 5, "x2": 15, "y2": 15}}
            """
        }.joined(separator: ",")
        let text = "{\"size\": 64, \"background\": \"\(Background.allCases[0].rawValue)\", \"textureSeed\": 1, \"objects\": [\(json)]}"
        return try JSONDecoder().decode(Scene.self, from: Data(text.utf8))
    }

    /// Colour and shape questions get the image's most common attribute whichever object they
    /// name (ties to the first in the vocabulary's order); other types the set's most common answer.
    func testAnswersFromTheImageSummaryNotTheNamedObject() throws {
        let scenes = ["1": try scene([(.star, .red), (.circle, .red), (.square, .blue)]),
                      "2": try scene([(.triangle, .blue), (.triangle, .blue), (.star, .green)])]
        let questions = [
            EvalQuestion(id: 0, image: "test/1.png", type: .colour, question: "What color is the square?", answer: "blue"),
            EvalQuestion(id: 1, image: "test/2.png", type: .colour, question: "What color are the triangles?", answer: "blue"),
            EvalQuestion(id: 2, image: "test/2.png", type: .shape, question: "What shape is the green object?", answer: "star"),
            EvalQuestion(id: 3, image: "test/1.png", type: .shape, question: "What shape is the blue object?", answer: "square"),
            EvalQuestion(id: 4, image: "test/1.png", type: .count, question: "How many stars are there?", answer: "1"),
            EvalQuestion(id: 5, image: "test/2.png", type: .count, question: "How many triangles are there?", answer: "2"),
            EvalQuestion(id: 6, image: "test/2.png", type: .count, question: "How many objects are there?", answer: "3"),
            EvalQuestion(id: 7, image: "test/2.png", type: .count, question: "How many stars are there?", answer: "1"),
            EvalQuestion(id: 8, image: "test/3.png", type: .shape, question: "What shape is the red object?", answer: "circle"),
        ]
        let baseline = UnboundBaseline(questions: questions, scenes: scenes)
        XCTAssertEqual(questions.map { baseline.answer($0) }, ["red", "blue", "triangle", "circle", "1", "1", "1", "1", nil])
        XCTAssertEqual(UnboundBaseline.sceneID(ofImage: "test/12.png"), "12")
        XCTAssertEqual(UnboundBaseline.sceneID(ofImage: "12.png"), "12")
    }
}
