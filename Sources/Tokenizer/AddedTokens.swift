import Foundation

/// A token from `added_tokens`: matched in the text before BPE runs and never split.
struct AddedToken {
    let id: Int
    let content: [Unicode.Scalar]
    let special: Bool
    let lstrip: Bool
    let rstrip: Bool
    let singleWord: Bool
    let normalized: Bool
}

/// A stretch of input: an added token, or text to normalize and run through BPE.
enum TextPiece {
    case added(Int)
    /// `offset`: where the text starts in its parent, in scalars (Metaspace "first" needs 0).
    case text([Unicode.Scalar], offset: Int)
}

/// The added tokens, and the matcher that cuts text around them.
///
/// Matching follows `tokenizers`' Aho–Corasick "leftmost longest": at the leftmost position
/// where any token starts, the longest one wins. `lstrip`/`rstrip` widen a match over the
/// whitespace beside it; `single_word` drops a match glued to a word character.
struct AddedVocabulary {
    let tokens: [Int: AddedToken]
    private let byContent: [PieceKey: Int]
    private let rawTrie: TokenTrie
    private let normalizedTrie: TokenTrie

    init(_ specs: [AddedTokenSpec]) {
        let tokens = specs.map {
            AddedToken(id: $0.id, content: Array($0.content.unicodeScalars), special: $0.special, lstrip: $0.lstrip,
                       rstrip: $0.rstrip, singleWord: $0.singleWord, normalized: $0.normalized)
        }
        self.tokens = Dictionary(tokens.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        byContent = Dictionary(specs.map { (PieceKey($0.content), $0.id) }, uniquingKeysWith: { $1 })
        rawTrie = TokenTrie(tokens.filter { !$0.normalized })
        normalizedTrie = TokenTrie(tokens.filter { $0.normalized })
    }

    func id(of content: String) -> Int? { byContent[PieceKey(content)] }

    /// Cuts raw input around tokens with `normalized: false`.
    func splitRaw(_ text: [Unicode.Scalar]) -> [TextPiece] { split(text, with: rawTrie) }

    /// Cuts normalized text around tokens with `normalized: true`.
    func splitNormalized(_ text: [Unicode.Scalar]) -> [TextPiece] { split(text, with: normalizedTrie) }

    private func split(_ text: [Unicode.Scalar], with trie: TokenTrie) -> [TextPiece] {
        guard !trie.isEmpty else { return text.isEmpty ? [] : [.text(text, offset: 0)] }
        var pieces: [TextPiece] = []
        var consumed = 0
        for match in trie.matches(in: text) {
            let token = tokens[match.id]!
            if token.singleWord, !isSingleWord(text, match.range) { continue }
            var range = match.range
            if token.lstrip { range = max(consumed, whitespaceStart(text, before: range.lowerBound))..<range.upperBound }
            if token.rstrip { range = range.lowerBound..<whitespaceEnd(text, after: range.upperBound) }
            range = max(range.lowerBound, consumed)..<range.upperBound
            if consumed < range.lowerBound { pieces.append(.text(Array(text[consumed..<range.lowerBound]), offset: consumed)) }
            pieces.append(.added(match.id))
            consumed = range.upperBound
        }
        if consumed < text.count { pieces.append(.text(Array(text[consumed...]), offset: consumed)) }
        return pieces
    }

    private func isSingleWord(_ text: [Unicode.Scalar], _ range: Range<Int>) -> Bool {
        let before = range.lowerBound > 0 && isWordScalar(text[range.lowerBound - 1])
        let after = range.upperBound < text.count && isWordScalar(text[range.upperBound])
        return !before && !after
    }

    private func whitespaceStart(_ text: [Unicode.Scalar], before index: Int) -> Int {
        var start = index
        while start > 0, text[start - 1].properties.isWhitespace { start -= 1 }
        return start
    }

    private func whitespaceEnd(_ text: [Unicode.Scalar], after index: Int) -> Int {
        var end = index
        while end < text.count, text[end].properties.isWhitespace { end += 1 }
        return end
    }

    private func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }
}

/// A trie over the scalars of a set of tokens.
private struct TokenTrie {
    private var children: [[Unicode.Scalar: Int]] = [[:]]
    private var terminal: [Int?] = [nil]

    init(_ tokens: [AddedToken]) {
        for token in tokens where !token.content.isEmpty { insert(token.content, id: token.id) }
    }

    var isEmpty: Bool { children[0].isEmpty }

    private mutating func insert(_ content: [Unicode.Scalar], id: Int) {
        var node = 0
        for scalar in content {
            if let child = children[node][scalar] {
                node = child
            } else {
                children.append([:])
                terminal.append(nil)
                children[node][scalar] = children.count - 1
                node = children.count - 1
            }
        }
        terminal[node] = id
    }

    /// Non-overlapping matches, leftmost first and longest at each start.
    func matches(in text: [Unicode.Scalar]) -> [(range: Range<Int>, id: Int)] {
        var found: [(range: Range<Int>, id: Int)] = []
        var start = 0
        while start < text.count {
            if let match = longestMatch(in: text, at: start) {
                found.append(match)
                start = match.range.upperBound
            } else {
                start += 1
            }
        }
        return found
    }

    private func longestMatch(in text: [Unicode.Scalar], at start: Int) -> (range: Range<Int>, id: Int)? {
        var node = 0, best: (range: Range<Int>, id: Int)?
        var index = start
        while index < text.count, let child = children[node][text[index]] {
            node = child
            index += 1
            if let id = terminal[node] { best = (start..<index, id) }
        }
        return best
    }
}
