// The words of the world and their synonyms, in one place for the caption writer, the teacher's
// parser and the evaluation scorer. Numbers are always written as digits ("3 circles").

enum Vocabulary {
    /// Surface forms of shape nouns → (shape, plural?). "plus sign" is two words.
    static let shapeNouns: [String: (Shape, Bool)] = [
        "circle": (.circle, false), "circles": (.circle, true), "disc": (.circle, false), "discs": (.circle, true),
        "square": (.square, false), "squares": (.square, true),
        "triangle": (.triangle, false), "triangles": (.triangle, true),
        "star": (.star, false), "stars": (.star, true),
        "cross": (.cross, false), "crosses": (.cross, true),
        "plus": (.cross, false), "pluses": (.cross, true),
    ]

    /// Synonyms a caption may use for each shape (singular, plural).
    static let shapeSynonyms: [Shape: [(String, String)]] = [
        .circle: [("circle", "circles"), ("disc", "discs")],
        .square: [("square", "squares")],
        .triangle: [("triangle", "triangles")],
        .star: [("star", "stars")],
        .cross: [("cross", "crosses"), ("plus sign", "plus signs")],
    ]

    static let sizeWords: [String: ObjectSize] = ["small": .small, "little": .small, "large": .large, "big": .large]
    static let sizeSynonyms: [ObjectSize: [String]] = [.small: ["small", "little"], .large: ["large", "big"]]

    static let colourWords: [String: ObjectColour] = Dictionary(uniqueKeysWithValues: ObjectColour.allCases.map { ($0.rawValue, $0) })

    /// Region phrases, canonical first, with the synonyms captions use.
    static let regionPhrases: [(String, Region)] = [
        ("on the left side", .left), ("on the right side", .right),
        ("on the left", .left), ("on the right", .right), ("at the top", .top), ("at the bottom", .bottom),
        ("in the center", .center), ("in the middle", .center), ("near the top", .top), ("near the bottom", .bottom),
    ]

    /// Relation phrases, longest first so "to the left of" wins over "left of".
    static let relationPhrases: [(String, Relation)] = [
        ("to the left of", .leftOf), ("to the right of", .rightOf), ("left of", .leftOf), ("right of", .rightOf),
        ("above", .above), ("below", .below), ("under", .below), ("beneath", .below),
    ]

    /// Number words a model might still produce; the scorer maps them to digits.
    static let numberWords: [String: String] = [
        "zero": "0", "none": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
        "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
    ]

    /// "a red circle" / "an orange star" / "3 blue squares".
    static func countedPhrase(count: Int, words: String) -> String {
        if count == 1 { return article(for: words) + " " + words }
        return "\(count) \(words)"
    }

    static func article(for words: String) -> String {
        guard let first = words.first else { return "a" }
        return "aeiou".contains(first) ? "an" : "a"
    }

    /// "a", "a and b", "a, b and c".
    static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: return ""
        case 1: return items[0]
        default: return items.dropLast().joined(separator: ", ") + " and " + items.last!
        }
    }

    static func capitalised(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
}
