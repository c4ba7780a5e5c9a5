// Reads a free-text description of a scene back into the world's terms: which objects it names
// (colour, shape, size, region) and which relations it states between them. Only the world's own
// vocabulary is recognised (`Vocabulary`), so anything else in a sentence is ignored.
//
// The unit is the clause (a sentence split at "," and ";"). In a clause a mention is
// [number] [size] [colour] shape-noun ("a small red star", "2 blue circles", "the plus sign"). A
// clause with a relation phrase ("to the left of", "above", "right of" not followed by "the
// image") is a relation: its last mention before the phrase relates to its first mention after
// it. Every other mention introduces an object and takes the first region phrase after it in its
// clause ("a red star on the left and a blue circle at the top", "at the top of the image"), or,
// if there is none, the closest one before it ("On the left is a red star").

/// One naming of an object (or of `count` objects of a kind) in a description.
public struct DescribedObject: Sendable, Equatable {
    public var colour: ObjectColour?
    public var shape: Shape
    public var size: ObjectSize?
    public var region: Region?
    /// 1 for "a red star", 2 for "2 red stars" or "two red stars".
    public var count: Int

    public init(colour: ObjectColour?, shape: Shape, size: ObjectSize? = nil, region: Region? = nil, count: Int = 1) {
        self.colour = colour; self.shape = shape; self.size = size; self.region = region; self.count = count
    }

    /// The (colour, shape) pair, when the colour is named.
    public var kind: ObjectKind? { colour.map { ObjectKind(colour: $0, shape: shape) } }
}

/// A relation a description states: "the red star is to the left of the blue circle".
public struct DescribedRelation: Sendable, Equatable {
    public var a: DescribedObject, relation: Relation, b: DescribedObject
}

/// What a description says, in the world's terms.
public struct ParsedDescription: Sendable, Equatable {
    /// Mentions that introduce objects (outside relation clauses), in reading order.
    public var objects: [DescribedObject] = []
    public var relations: [DescribedRelation] = []
}

/// Parses descriptions into `ParsedDescription`.
///
/// ```swift
/// let parsed = DescriptionParser.parse("A small red star is on the right. The red star is above the blue circle.")
/// parsed.objects      // [small red star, right]
/// parsed.relations    // [red star above blue circle]
/// ```
public enum DescriptionParser {
    public static func parse(_ text: String) -> ParsedDescription {
        var out = ParsedDescription()
        for clause in clauses(text) {
            let tokens = tokenise(clause)
            if let (at, length, relation) = relationPhrase(in: tokens) {
                let before = mentions(in: Array(tokens[..<at])), after = mentions(in: Array(tokens[(at + length)...]))
                if let a = before.last?.object, let b = after.first?.object {
                    out.relations.append(DescribedRelation(a: a, relation: relation, b: b))
                }
                continue
            }
            out.objects += placed(mentions(in: tokens), regions: regionPhrases(in: tokens))
        }
        return out
    }

    /// Sentences split at ".", "!", "?", ";", "," and line breaks (a digit's "." never occurs here).
    static func clauses(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: { ".!?;,\n".contains($0) }).map(String.init)
    }

    /// Lower-case words; number words become digits, "plus sign(s)" one shape noun, "middle" and
    /// "centre" become "center".
    static func tokenise(_ clause: String) -> [String] {
        let words = EvalQuestions.normalisedWords(clause)
        var out: [String] = []
        for w in words {
            // normalisedWords maps "plus" to "cross": drop the "sign" after it.
            if (w == "sign" || w == "signs"), out.last == Shape.cross.rawValue { continue }
            out.append(w)
        }
        return out
    }

    /// Mentions with their token position (of the shape noun).
    static func mentions(in tokens: [String]) -> [(position: Int, object: DescribedObject)] {
        var out: [(Int, DescribedObject)] = []
        for (i, w) in tokens.enumerated() {
            guard let shape = Shape(rawValue: w) else { continue }
            var object = DescribedObject(colour: nil, shape: shape)
            // Walk back over colour, size and number words ("2 small red stars").
            var j = i - 1
            while j >= 0 {
                let t = tokens[j]
                if object.colour == nil, let c = Vocabulary.colourWords[t] { object.colour = c }
                else if object.size == nil, let s = Vocabulary.sizeWords[t] { object.size = s }
                else if let n = Int(t), n > 0 { object.count = n; break }
                else { break }
                j -= 1
            }
            out.append((i, object))
        }
        return out
    }

    /// Region words used as a place in the image (not "left of the star"), with their positions.
    static func regionPhrases(in tokens: [String]) -> [(position: Int, region: Region)] {
        tokens.indices.compactMap { i in
            guard let region = Region(rawValue: tokens[i]), !isRelationWord(tokens, i) else { return nil }
            return (i, region)
        }
    }

    /// "left of" / "right of" followed by an object (not "of the image").
    private static func isRelationWord(_ tokens: [String], _ i: Int) -> Bool {
        guard tokens[i] == "left" || tokens[i] == "right", i + 1 < tokens.count, tokens[i + 1] == "of" else { return false }
        let rest = tokens[(i + 2)...].drop(while: { $0 == "the" || $0 == "a" || $0 == "an" })
        guard let next = rest.first else { return false }
        return !imageWords.contains(next)
    }

    private static let imageWords: Set<String> = ["image", "picture", "scene", "frame", "photo", "canvas"]

    /// The first relation phrase of a clause: its position, length in tokens and relation.
    static func relationPhrase(in tokens: [String]) -> (Int, Int, Relation)? {
        for i in tokens.indices {
            switch tokens[i] {
            case "above": return (i, 1, .above)
            case "below", "under", "beneath": return (i, 1, .below)
            case "left", "right":
                guard isRelationWord(tokens, i) else { continue }
                let relation: Relation = tokens[i] == "left" ? .leftOf : .rightOf
                // "to the left of": start the phrase at "to".
                let start = i >= 2 && tokens[i - 2] == "to" && tokens[i - 1] == "the" ? i - 2 : i
                return (start, i + 2 - start, relation)
            default: continue
            }
        }
        return nil
    }

    /// Gives each mention the first region phrase after it, or else the closest one before it.
    static func placed(_ mentions: [(position: Int, object: DescribedObject)], regions: [(position: Int, region: Region)]) -> [DescribedObject] {
        mentions.map { m in
            var object = m.object
            if let after = regions.first(where: { $0.position > m.position }) {
                object.region = after.region
            } else if let before = regions.last(where: { $0.position < m.position }) {
                object.region = before.region
            }
            return object
        }
    }
}
