/// A scripted two-turn conversation: the first turn singles out one object without naming the
/// attribute asked next, the follow-up asks about "it". `direct` asks the same thing in one turn,
/// so a model's follow-up score can be read against its single-question score on the same objects.
public struct FollowUpConversation: Sendable, Equatable {
    /// "<scene id>-colour" or "<scene id>-position".
    public var id: String
    public var image: String
    public var first: String
    /// The first turn's short answer.
    public var firstAnswer: String
    public var followUp: String
    public var direct: String
    /// The follow-up's short answer (a colour or a region word), scored as `type`.
    public var answer: String
    public var type: QuestionType
}

/// The scripted conversations of a scene, from its ground truth.
///
/// ```swift
/// let conversations = FollowUpConversations.conversations(for: scene, sceneID: "4", image: "test/4.png")
/// // "How many stars are there?" → "1"; "And what color is it?" → "red"
/// // "What shape is the blue object?" → "circle"; "And where is it?" → "left"
/// ```
public enum FollowUpConversations {
    public static let colourFollowUp = "And what color is it?"
    public static let positionFollowUp = "And where is it?"

    /// Whether a question, or a turn's text (the short-answer instruction may come after it), is a follow-up.
    static func isFollowUp(_ question: String) -> Bool { question.hasPrefix(colourFollowUp) || question.hasPrefix(positionFollowUp) }

    /// Up to two: a colour follow-up on the first object (in drawing order) whose shape is the only
    /// one of its kind in the scene, asked after counting that shape ("How many stars are there?"
    /// → 1); a position follow-up on the first object whose colour no other object has, asked after
    /// its shape ("What shape is the blue object?").
    public static func conversations(for scene: Scene, sceneID: String, image: String) -> [FollowUpConversation] {
        let all = candidates(scene)
        return [QuestionType.colour, .position].compactMap { type in
            all.first { $0.followUp.type == type }.map { c in
                FollowUpConversation(id: "\(sceneID)-\(type.rawValue)", image: image, first: c.first, firstAnswer: c.firstAnswer,
                                     followUp: c.followUp.question, direct: c.direct, answer: c.followUp.shortAnswer, type: type)
            }
        }
    }

    /// The follow-up turns for training, keyed by the question they follow: every object of the
    /// scene that `conversations` could pick, not just the first. Their object-first answers
    /// name the object of the turn before ("star red" for "And what color is it?" after "How many
    /// stars are there?"), so the follow-up copies it as colour and position answers copy the
    /// object named in their own question; so do their sentences ("The star is red.", "The
    /// circle is on the left of the image.").
    public static func trainingFollowUps(for scene: Scene) -> [String: PhrasedQuestion] {
        Dictionary(candidates(scene).map { ($0.first, $0.followUp) }, uniquingKeysWith: { first, _ in first })
    }

    private struct Candidate {
        var first: String, firstAnswer: String, followUp: PhrasedQuestion, direct: String
    }

    /// Each object whose shape (colour follow-up) or colour (position follow-up) is its own in
    /// the scene, in drawing order.
    private static func candidates(_ scene: Scene) -> [Candidate] {
        let objects = scene.objects
        var out: [Candidate] = []
        for o in objects where objects.filter({ $0.shape == o.shape }).count == 1 {
            let followUp = PhrasedQuestion(type: .colour, question: colourFollowUp, answer: "The \(o.shape.rawValue) is \(o.colour.rawValue).",
                                           shortAnswer: o.colour.rawValue, objectFirstAnswer: "\(o.shape.rawValue) \(o.colour.rawValue)")
            out.append(Candidate(first: "How many \(o.shape.plural) are there?", firstAnswer: "1",
                                 followUp: followUp, direct: "What color is the \(o.shape.rawValue)?"))
        }
        for o in objects where objects.filter({ $0.colour == o.colour }).count == 1 {
            let region = Region(normalised: scene.normalisedCentre(o))
            let followUp = PhrasedQuestion(type: .position, question: positionFollowUp, answer: "The \(o.shape.rawValue) is \(region.phrase) of the image.",
                                           shortAnswer: region.rawValue, objectFirstAnswer: "\(o.shape.rawValue) \(region.rawValue)")
            out.append(Candidate(first: "What shape is the \(o.colour.rawValue) object?", firstAnswer: o.shape.rawValue,
                                 followUp: followUp, direct: "Where is the \(o.kind.name) in the image?"))
        }
        return out
    }
}

/// Correct / total of the follow-up conversations by type: the first turn, the follow-up and the
/// same question asked directly.
public struct FollowUpTotals: Sendable, Equatable, Codable {
    public struct Row: Sendable, Equatable, Codable { public var total = 0, firstRight = 0, followUpRight = 0, directRight = 0 }
    public var rows: [String: Row] = [:]

    public init() {}

    public mutating func add(_ c: FollowUpConversation, first: String, followUp: String, direct: String) {
        var row = rows[c.type.rawValue] ?? Row()
        row.total += 1
        let firstType: QuestionType = c.type == .colour ? .count : .shape
        if EvalQuestions.isCorrect(prediction: first, answer: c.firstAnswer, type: firstType) { row.firstRight += 1 }
        if EvalQuestions.isCorrect(prediction: followUp, answer: c.answer, type: c.type) { row.followUpRight += 1 }
        if EvalQuestions.isCorrect(prediction: direct, answer: c.answer, type: c.type) { row.directRight += 1 }
        rows[c.type.rawValue] = row
    }

    public var table: String {
        let p = { (n: Int, d: Int) in String(format: "%.1f%% (%d / %d)", 100 * Double(n) / Double(max(d, 1)), n, d) }
        var lines = ["| follow-up | first turn | follow-up (\"it\") | asked directly |", "|---|---|---|---|"]
        for (name, first) in [("colour", "count"), ("position", "shape")] {
            guard let r = rows[name] else { continue }
            lines.append("| \(first) → \(name) | \(p(r.firstRight, r.total)) | \(p(r.followUpRight, r.total)) | \(p(r.directRight, r.total)) |")
        }
        return lines.joined(separator: "\n")
    }
}
