import Foundation

// Reading the teacher's symbolic context back into facts: the `SymbolicTeacher` sees only this
// text, as GPT-4 did. Caption lines give kinds, counts, sizes, regions and relations; box lines
// (`red circle: [x1, y1, x2, y2]`) give one object each and, when present, decide the counts.

extension SceneFacts {
    public init(parsingContext text: String) {
        self.init()
        var boxCounts: [ObjectKind: Int] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty else { continue }
            if let (kind, box) = ContextParser.boxLine(line) {
                boxes.append((kind, box))
                boxCounts[kind, default: 0] += 1
            } else {
                ContextParser.caption(line, into: &self)
            }
        }
        if !boxCounts.isEmpty { counts = boxCounts }
        // Regions and relations only make sense for kinds with one object.
        regions = regions.filter { counts[$0.key] == 1 }
        relations = relations.filter { counts[$0.a] == 1 && counts[$0.b] == 1 }
    }
}

enum ContextParser {
    /// A mention of a kind: "a big red disc" (count 1), "3 blue squares", "the red circle" (count nil).
    struct Mention { var kind: ObjectKind; var count: Int?; var size: ObjectSize?; var end: Int }

    /// `red circle: [0.100, 0.200, 0.300, 0.400]`
    static func boxLine(_ line: String) -> (ObjectKind, Box)? {
        guard let colon = line.firstIndex(of: ":"), line.hasSuffix("]"),
              let open = line.firstIndex(of: "[") else { return nil }
        let name = line[..<colon].lowercased().split(separator: " ").map(String.init)
        guard name.count == 2, let colour = Vocabulary.colourWords[name[0]],
              let (shape, _) = Vocabulary.shapeNouns[name[1]] else { return nil }
        let numbers = line[line.index(after: open)..<line.index(before: line.endIndex)]
            .split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == 4 else { return nil }
        return (ObjectKind(colour: colour, shape: shape), Box(x1: numbers[0], y1: numbers[1], x2: numbers[2], y2: numbers[3]))
    }

    /// Adds what one caption says. Counts keep the largest number any caption gives.
    static func caption(_ line: String, into facts: inout SceneFacts) {
        let lower = line.lowercased()
        if let r = lower.range(of: #"on an? ([a-z]+) background"#, options: .regularExpression) {
            facts.background = lower[r].split(separator: " ").dropFirst(2).first.map(String.init)
        }
        var lineCounts: [ObjectKind: Int] = [:]
        for clause in clauses(lower) {
            let words = clause.split(separator: " ").map(String.init)
            let mentions = self.mentions(words)
            for m in mentions {
                lineCounts[m.kind, default: 0] += m.count ?? 0
                facts.counts[m.kind] = max(facts.counts[m.kind] ?? 1, 1)
                if let s = m.size { facts.sizes[m.kind] = s }
            }
            let text = " " + words.joined(separator: " ") + " "
            if mentions.count == 2, let rel = Vocabulary.relationPhrases.first(where: { text.contains(" \($0.0) ") }) {
                facts.relations.append(.init(a: mentions[0].kind, relation: rel.1, b: mentions[1].kind))
            } else if mentions.count == 1, let reg = Vocabulary.regionPhrases.first(where: { text.contains(" \($0.0) ") }) {
                facts.regions[mentions[0].kind] = reg.1
            }
        }
        for (kind, n) in lineCounts { facts.counts[kind] = max(facts.counts[kind] ?? 0, n) }
    }

    /// Splits on sentence and list punctuation and on " and ".
    static func clauses(_ text: String) -> [String] {
        text.components(separatedBy: CharacterSet(charactersIn: ".,;:!?"))
            .flatMap { $0.components(separatedBy: " and ") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// Noun phrases `determiner [size] colour shape` in a clause.
    static func mentions(_ words: [String]) -> [Mention] {
        var out: [Mention] = []
        var i = 0
        while i < words.count {
            if let m = mention(words, at: i) { out.append(m); i = m.end } else { i += 1 }
        }
        return out
    }

    private static func mention(_ w: [String], at start: Int) -> Mention? {
        let determiner = w[start]
        let count: Int?
        switch determiner {
        case "a", "an": count = 1
        case "the": count = nil
        default:
            guard let n = Int(determiner) ?? Vocabulary.numberWords[determiner].flatMap({ Int($0) }) else { return nil }
            count = n
        }
        var i = start + 1
        var size: ObjectSize?
        if i < w.count, let s = Vocabulary.sizeWords[w[i]] { size = s; i += 1 }
        guard i + 1 < w.count, let colour = Vocabulary.colourWords[w[i]],
              let (shape, _) = Vocabulary.shapeNouns[w[i + 1]] else { return nil }
        i += 2
        if shape == .cross, w[i - 1] == "plus", i < w.count, w[i] == "sign" || w[i] == "signs" { i += 1 }
        return Mention(kind: ObjectKind(colour: colour, shape: shape), count: count, size: size, end: i)
    }
}
