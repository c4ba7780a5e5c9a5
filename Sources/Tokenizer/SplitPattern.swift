import Foundation

/// The patterns of the `Split` pre-tokenizer (and of `ByteLevel`'s own regex), matched by hand.
///
/// `tokenizers` runs these regexes with Oniguruma. Rather than carry a regex engine (and
/// NSRegularExpression's uncertain `\p{…}` support on Linux), the few patterns that real
/// checkpoints use are recognised by their exact text and matched by a scanner that follows
/// the regex's leftmost-first alternation and backtracking; any other regex is `unsupported`.
/// Classes: `\p{L}` letters (Lu Ll Lt Lm Lo), `\p{N}` numbers (Nd Nl No), `\s` White_Space.
enum SplitPattern {
    /// A literal string, matched left to right without overlap.
    case string([Unicode.Scalar])
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// LLaMA-3 (`maxDigits` 3) and Qwen2 (`maxDigits` 1): `(?i:'s|'t|'re|'ve|'m|'ll|'d)|
    /// [^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3(maxDigits: Int)
    /// `Digits`: each number character is a match.
    case numbers

    static let knownRegexes: [String: SplitPattern] = [
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .llama3(maxDigits: 3),
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .llama3(maxDigits: 1),
    ]

    /// What `Split` does with the matches (HF `SplitDelimiterBehavior`).
    enum Behavior: String, Decodable {
        case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
        case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
    }

    /// `word` cut into pieces as `tokenizers`' `NormalizedString::split` cuts it; empty pieces dropped.
    func split(_ word: [Unicode.Scalar], behavior: Behavior, invert: Bool) -> [[Unicode.Scalar]] {
        guard !word.isEmpty else { return [] }
        var pieces = cover(word, matches: matches(in: word))
        if invert { pieces = pieces.map { ($0.range, !$0.isMatch) } }
        let kept: [(range: Range<Int>, remove: Bool)]
        switch behavior {
        case .isolated: kept = pieces.map { ($0.range, false) }
        case .removed: kept = pieces.map { ($0.range, $0.isMatch) }
        case .contiguous: kept = Self.merge(pieces) { previous, current in current == previous }
        case .mergedWithPrevious: kept = Self.merge(pieces) { previous, current in current && !previous }
        case .mergedWithNext:
            let reversed = pieces.reversed().map { (range: $0.range, isMatch: $0.isMatch) }
            kept = Self.merge(reversed) { previous, current in current && !previous }.reversed()
        }
        return kept.compactMap { $0.remove || $0.range.isEmpty ? nil : Array(word[$0.range]) }
    }

    /// Joins a piece into the one before it (in list order) when `joins(previousIsMatch, isMatch)`.
    private static func merge(_ pieces: [(range: Range<Int>, isMatch: Bool)],
                              joins: (Bool, Bool) -> Bool) -> [(range: Range<Int>, remove: Bool)] {
        var out: [(range: Range<Int>, remove: Bool)] = []
        var previousIsMatch = false
        for piece in pieces {
            if joins(previousIsMatch, piece.isMatch), let last = out.last {
                let lower = min(last.range.lowerBound, piece.range.lowerBound)
                let upper = max(last.range.upperBound, piece.range.upperBound)
                out[out.count - 1] = (lower..<upper, false)
            } else {
                out.append((piece.range, false))
            }
            previousIsMatch = piece.isMatch
        }
        return out
    }

    /// The matches and the gaps between them, in order, covering the whole word.
    private func cover(_ word: [Unicode.Scalar], matches: [Range<Int>]) -> [(range: Range<Int>, isMatch: Bool)] {
        var out: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        for match in matches {
            if previous < match.lowerBound { out.append((previous..<match.lowerBound, false)) }
            out.append((match, true))
            previous = match.upperBound
        }
        if previous < word.count { out.append((previous..<word.count, false)) }
        return out
    }

    /// Non-overlapping matches, leftmost first.
    func matches(in word: [Unicode.Scalar]) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var start = 0
        let classes = word.map(ScalarClass.init)
        while start < word.count {
            if let end = matchEnd(word, classes, at: start), end > start {
                found.append(start..<end)
                start = end
            } else {
                start += 1
            }
        }
        return found
    }

    private func matchEnd(_ word: [Unicode.Scalar], _ classes: [ScalarClass], at i: Int) -> Int? {
        switch self {
        case .string(let literal):
            guard !literal.isEmpty, word[i...].starts(with: literal) else { return nil }
            return i + literal.count
        case .numbers: return classes[i] == .number ? i + 1 : nil
        case .gpt2: return RegexScanner(word: word, classes: classes).gpt2(at: i)
        case .llama3(let maxDigits): return RegexScanner(word: word, classes: classes).llama3(at: i, maxDigits: maxDigits)
        }
    }
}

/// The class of a scalar for `\p{L}`, `\p{N}`, `\s` and the rest.
enum ScalarClass {
    case letter, number, space, other

    init(_ scalar: Unicode.Scalar) {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: self = .letter
        case .decimalNumber, .letterNumber, .otherNumber: self = .number
        default: self = scalar.properties.isWhitespace ? .space : .other
        }
    }
}

/// One match attempt at a position: each alternative in order, as the backtracking engine tries them.
private struct RegexScanner {
    let word: [Unicode.Scalar]
    let classes: [ScalarClass]

    /// End of the run of `kind` starting at `i`.
    private func run(_ kind: ScalarClass, from i: Int, limit: Int = .max) -> Int {
        var end = i
        while end < word.count, classes[end] == kind, end - i < limit { end += 1 }
        return end
    }

    private func isNewline(_ i: Int) -> Bool { i < word.count && (word[i] == "\n" || word[i] == "\r") }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally case-insensitive (where "ſ" folds to "s").
    private func contraction(at i: Int, ignoringCase: Bool) -> Int? {
        guard word[i] == "'", i + 1 < word.count else { return nil }
        func letter(_ j: Int) -> String? {
            guard j < word.count else { return nil }
            let text = String(word[j])
            return ignoringCase ? (text == "ſ" ? "s" : text.lowercased()) : text
        }
        let first = letter(i + 1)
        if let first, ["s", "t", "m", "d"].contains(first) { return i + 2 }
        if let first, let second = letter(i + 2), ["re", "ve", "ll"].contains(first + second) { return i + 3 }
        return nil
    }

    /// `\s+(?!\S)|\s+`: a space run gives back its last scalar when a non-space follows.
    private func trailingSpaces(at i: Int) -> Int? {
        guard classes[i] == .space else { return nil }
        let end = run(.space, from: i)
        return end == word.count || end - 1 == i ? end : end - 1
    }

    func gpt2(at i: Int) -> Int? {
        if let end = contraction(at: i, ignoringCase: false) { return end }
        // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`: the classes are disjoint and exclude " ".
        if word[i] == " ", i + 1 < word.count, classes[i + 1] != .space { return run(classes[i + 1], from: i + 1) }
        if classes[i] != .space { return run(classes[i], from: i) }
        return trailingSpaces(at: i)
    }

    func llama3(at i: Int, maxDigits: Int) -> Int? {
        if let end = contraction(at: i, ignoringCase: true) { return end }
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if classes[i] == .letter { return run(.letter, from: i) }
        if classes[i] != .number, !isNewline(i), i + 1 < word.count, classes[i + 1] == .letter {
            return run(.letter, from: i + 1)
        }
        // `\p{N}{1,3}`
        if classes[i] == .number { return run(.number, from: i, limit: maxDigits) }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let start = word[i] == " " && i + 1 < word.count && classes[i + 1] == .other ? i + 1 : i
        if classes[start] == .other {
            var end = run(.other, from: start)
            while isNewline(end) { end += 1 }
            return end
        }
        // `\s*[\r\n]+`: the space run backs off to its last newline.
        if classes[i] == .space, let last = (i..<run(.space, from: i)).last(where: isNewline) { return last + 1 }
        return trailingSpaces(at: i)
    }
}
