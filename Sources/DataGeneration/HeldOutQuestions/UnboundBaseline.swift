import Foundation

/// Answers held-out questions without binding the question to an object: a colour question gets
/// the image's most common colour and a shape question its most common shape, whichever object the
/// question names; every other type gets the answer most common for that type in the question set.
/// A model that scores no better than this reads a summary of the image, not the object asked
/// about (the world's scenes often repeat one colour or shape, so the summary is often right).
///
/// ```swift
/// let baseline = UnboundBaseline(questions: questions, scenes: scenes)
/// baseline.answer(questions[0])   // "red", for "What color is the star?" in a mostly red scene
/// ```
public struct UnboundBaseline: Sendable {
    private let scenes: [String: Scene]
    private let commonAnswer: [QuestionType: String]

    public init(questions: [EvalQuestion], scenes: [String: Scene]) {
        self.scenes = scenes
        var tallies: [QuestionType: [String: Int]] = [:]
        for q in questions { tallies[q.type, default: [:]][q.answer, default: 0] += 1 }
        commonAnswer = tallies.mapValues { Self.mostCommon($0, order: $0.keys.sorted()) }
    }

    /// The scene id of an image path "<split>/<id>.png".
    public static func sceneID(ofImage image: String) -> String {
        let name = image.split(separator: "/").last.map(String.init) ?? image
        return name.hasSuffix(".png") ? String(name.dropLast(4)) : name
    }

    /// The baseline's answer, or nil when the question's image has no scene.
    public func answer(_ q: EvalQuestion) -> String? {
        switch q.type {
        case .colour, .shape:
            guard let scene = scenes[Self.sceneID(ofImage: q.image)], !scene.objects.isEmpty else { return nil }
            if q.type == .colour {
                let tally = Dictionary(scene.objects.map { ($0.colour.rawValue, 1) }, uniquingKeysWith: +)
                return Self.mostCommon(tally, order: ObjectColour.allCases.map(\.rawValue))
            }
            let tally = Dictionary(scene.objects.map { ($0.shape.rawValue, 1) }, uniquingKeysWith: +)
            return Self.mostCommon(tally, order: Shape.allCases.map(\.rawValue))
        default:
            return commonAnswer[q.type]
        }
    }

    /// The key with the highest count; ties go to the earliest in `order`.
    private static func mostCommon(_ tally: [String: Int], order: [String]) -> String {
        order.filter { tally[$0] != nil }.max { tally[$0]! < tally[$1]! || (tally[$0]! == tally[$1]! && order.firstIndex(of: $0)! > order.firstIndex(of: $1)!) } ?? ""
    }
}
