// Question and answer wording shared by the teacher's conversations and the evaluation
// questions, so that the held-out questions are phrased exactly as in training. Every answer's
// first sentence states the fact; the short answer is the decisive word of that sentence.

/// The evaluated question types.
public enum QuestionType: String, Codable, Sendable, CaseIterable {
    case existence, colour, shape, count, position, relation
}

/// One question with its full answer (for training) and its short canonical answer (for scoring).
public struct PhrasedQuestion: Sendable, Equatable {
    public var type: QuestionType
    public var question: String
    public var answer: String
    public var shortAnswer: String
    /// The short answer led by the object the question names, for colour, shape and position
    /// questions ("star red" for "What color is the star?", "red star" for "What shape is the red
    /// object?", "star center" for "Where is the red star in the image?"); the short answer
    /// itself for the other types. See `ShortAnswerStyle`.
    public var objectFirstAnswer: String
    /// A relation's short answer after the two places it follows from, each led by its object's
    /// shape: "star 1 circle 3 yes" for "Is the red star to the left of the blue circle?" (the
    /// star in the first quarter of the image from the left, the circle in the third; rows of
    /// quarters from the top for above and below). The short answer itself for other types, and
    /// for relations asked without the objects' centres. See `ShortAnswerStyle.objectFirstRelation`.
    public var relationStepsAnswer: String

    /// The short answer as `style` words it.
    public func shortAnswer(_ style: ShortAnswerStyle) -> String {
        switch style {
        case .word: return shortAnswer
        case .objectFirst: return type == .position ? shortAnswer : objectFirstAnswer
        case .objectFirstPosition: return objectFirstAnswer
        case .objectFirstRelation: return type == .relation ? relationStepsAnswer : objectFirstAnswer
        }
    }

    init(type: QuestionType, question: String, answer: String, shortAnswer: String, objectFirstAnswer: String? = nil,
         relationStepsAnswer: String? = nil) {
        self.type = type
        self.question = question
        self.answer = answer
        self.shortAnswer = shortAnswer
        self.objectFirstAnswer = objectFirstAnswer ?? shortAnswer
        self.relationStepsAnswer = relationStepsAnswer ?? shortAnswer
    }
}

enum Phrasing {
    static func existence(_ kind: ObjectKind, count: Int) -> PhrasedQuestion {
        let q = "Is there \(Vocabulary.article(for: kind.name)) \(kind.name) in the image?"
        switch count {
        case 0: return PhrasedQuestion(type: .existence, question: q, answer: "No, there is no \(kind.name) in the image.", shortAnswer: "no")
        case 1: return PhrasedQuestion(type: .existence, question: q, answer: "Yes, there is \(Vocabulary.article(for: kind.name)) \(kind.name) in the image.", shortAnswer: "yes")
        default: return PhrasedQuestion(type: .existence, question: q, answer: "Yes, there are \(count) \(kind.pluralName) in the image.", shortAnswer: "yes")
        }
    }

    /// Asked only when every `shape` in the image has the one colour `colour`.
    static func colour(of shape: Shape, is colour: ObjectColour, count: Int) -> PhrasedQuestion {
        let noun = count == 1 ? shape.rawValue : shape.plural
        let (q, a) = count == 1
            ? ("What color is the \(noun)?", "The \(noun) is \(colour.rawValue).")
            : ("What color are the \(noun)?", "The \(noun) are \(colour.rawValue).")
        return PhrasedQuestion(type: .colour, question: q, answer: a, shortAnswer: colour.rawValue,
                               objectFirstAnswer: "\(noun) \(colour.rawValue)")
    }

    /// Asked only when every `colour` object in the image is a `shape`.
    static func shape(of colour: ObjectColour, is shape: Shape, count: Int) -> PhrasedQuestion {
        let c = colour.rawValue
        let (q, a) = count == 1
            ? ("What shape is the \(c) object?", "The \(c) object is \(Vocabulary.article(for: shape.rawValue)) \(shape.rawValue).")
            : ("What shape are the \(c) objects?", "The \(c) objects are \(shape.plural).")
        return PhrasedQuestion(type: .shape, question: q, answer: a, shortAnswer: shape.rawValue,
                               objectFirstAnswer: "\(c) \(count == 1 ? shape.rawValue : shape.plural)")
    }

    /// "How many circles are there?" (colour nil) or "How many red circles are there?".
    static func count(_ shape: Shape, colour: ObjectColour?, count: Int) -> PhrasedQuestion {
        let prefix = colour.map { $0.rawValue + " " } ?? ""
        let q = "How many \(prefix)\(shape.plural) are there?"
        let a = count == 1 ? "There is 1 \(prefix)\(shape.rawValue)." : "There are \(count) \(prefix)\(shape.plural)."
        return PhrasedQuestion(type: .count, question: q, answer: a, shortAnswer: "\(count)")
    }

    static func objectCount(_ count: Int) -> PhrasedQuestion {
        PhrasedQuestion(type: .count, question: "How many objects are there?",
                        answer: count == 1 ? "There is 1 object." : "There are \(count) objects.", shortAnswer: "\(count)")
    }

    /// For a kind with one object. The object-first answer names the shape alone ("star
    /// center"), the token colour answers already look up by.
    static func position(_ kind: ObjectKind, region: Region) -> PhrasedQuestion {
        PhrasedQuestion(type: .position, question: "Where is the \(kind.name) in the image?",
                        answer: "The \(kind.name) is \(region.phrase) of the image.", shortAnswer: region.rawValue,
                        objectFirstAnswer: "\(kind.shape.rawValue) \(region.rawValue)")
    }

    /// "Is the A <asked> the B?" when the true relation of A to B is `actual` (same axis).
    /// With the objects' normalised centres, the steps answer places both on that axis.
    static func relation(_ a: ObjectKind, _ asked: Relation, _ b: ObjectKind, actual: Relation,
                         centres: (Point, Point)? = nil) -> PhrasedQuestion {
        let q = "Is the \(a.name) \(asked.rawValue) the \(b.name)?"
        let yes = asked == actual
        let answer = yes ? "Yes, the \(a.name) is \(actual.rawValue) the \(b.name)."
                         : "No, the \(a.name) is \(actual.rawValue) the \(b.name)."
        let word = yes ? "yes" : "no"
        let steps = centres.map { ca, cb in
            let (pa, pb) = asked.isHorizontal ? (ca.x, cb.x) : (ca.y, cb.y)
            return "\(a.shape.rawValue) \(quarter(pa)) \(b.shape.rawValue) \(quarter(pb)) \(word)"
        }
        return PhrasedQuestion(type: .relation, question: q, answer: answer, shortAnswer: word, relationStepsAnswer: steps)
    }

    /// Which quarter of the image a normalised coordinate falls in, 1 to 4 (a column of a 4×4
    /// grid from the left, or a row from the top).
    static func quarter(_ v: Double) -> Int { min(4, max(1, Int((v * 4).rounded(.down)) + 1)) }
}
