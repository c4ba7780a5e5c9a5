import Foundation

/// Trains a SentencePiece-style BPE tokenizer the way LLaMA's was made, and writes it in the
/// HF "legacy" spelling that `Tokenizer` reads (see `TrainedBPE`).
///
/// Training, in SentencePiece's terms (`model_type=bpe`, `add_dummy_prefix`,
/// `remove_extra_whitespaces=false`, `allow_whitespace_only_pieces`, `split_digits`,
/// `split_by_unicode_script`, `byte_fallback`, `character_coverage=1.0`):
/// 1. each text is cut at special and added tokens (HF matches those first, then normalises
///    every remaining segment on its own), and each segment is normalised: "▁" prepended,
///    " " → "▁";
/// 2. a segment splits into words before every "▁" that does not follow a "▁" (so a run of
///    spaces stays with the word after it), around every ASCII digit when `splitDigits`, and
///    where the Unicode script changes when `splitByUnicodeScript` (see `UnicodeScriptClass`:
///    "center," gives "▁center" and ",", as in LLaMA's vocabulary; "▁" belongs to any script);
/// 3. the alphabet is every scalar seen, most frequent first;
/// 4. the most frequent adjacent pair (counted over distinct words × their counts) is merged
///    until the vocabulary reaches `vocabularySize`. Ties go to the smaller merged string, then
///    to the smaller left piece (scalar order), so the result does not depend on hashing.
///
/// No merge crosses a word boundary (a piece never ends in a non-"▁" before a "▁" inside a
/// word, and digits never merge), so HF's BPE, which sees a whole segment as one word, gives
/// the same segmentation as training did.
///
/// Vocabulary layout, as LLaMA's: `specialTokens` (0 `<unk>`, 1 `<s>`, 2 `</s>`), then the 256
/// byte pieces `<0x00>`…`<0xFF>` (with `byteFallback`), then the alphabet, then merged pieces
/// in the order they were made. `addedTokens` follow, outside the BPE model.
///
/// ```swift
/// let trainer = BPETrainer(vocabularySize: 2000, addedTokens: [("<image>", true), ("<pad>", true)])
/// let trained = trainer.train(texts: ["The image shows a red circle.", "What is shown?"])
/// try trained.write(to: URL(fileURLWithPath: "out/tokenizer"))
/// let tokenizer = try Tokenizer(directory: URL(fileURLWithPath: "out/tokenizer"))
/// ```
public struct BPETrainer: Sendable {
    /// Pieces in the BPE model (specials + bytes + alphabet + merges); added tokens come on top.
    public let vocabularySize: Int
    /// `[unk, bos, eos, …]`: the first three have those roles; any more are extra control pieces.
    public let specialTokens: [String]
    /// Tokens appended after the model vocabulary, e.g. LLaVA's `("<image>", true)`.
    public let addedTokens: [AddedToken]
    public let byteFallback: Bool
    public let splitDigits: Bool
    /// No piece mixes scripts (letters of one script, or punctuation, symbols and digits).
    public let splitByUnicodeScript: Bool
    /// Longest merged piece, in Unicode scalars (SentencePiece's `max_sentencepiece_length`).
    public let maxPieceLength: Int

    /// A token added after the learnt vocabulary (ids from `vocabularySize` on), never split by
    /// the model; `special` ones are dropped by `Tokenizer.decode(_:skipSpecialTokens:)` as HF does.
    public struct AddedToken: Sendable, Equatable {
        public var content: String
        public var special: Bool
        public init(content: String, special: Bool) {
            self.content = content
            self.special = special
        }
    }

    public init(vocabularySize: Int, specialTokens: [String] = ["<unk>", "<s>", "</s>"],
                addedTokens: [(content: String, special: Bool)] = [], byteFallback: Bool = true,
                splitDigits: Bool = true, splitByUnicodeScript: Bool = true, maxPieceLength: Int = 16) {
        precondition(specialTokens.count >= 3, "specialTokens must hold at least unk, bos and eos, got \(specialTokens)")
        precondition(Set(specialTokens.map { Array($0.unicodeScalars) }.map { $0.map(\.value) }).count
                     == specialTokens.count, "specialTokens has duplicates: \(specialTokens)")
        precondition(!specialTokens.contains("") && !addedTokens.contains { $0.content.isEmpty },
                     "special and added tokens must not be empty")
        let reserved = specialTokens.count + (byteFallback ? 256 : 0)
        precondition(vocabularySize >= reserved,
                     "vocabularySize (\(vocabularySize)) must hold the \(reserved) special and byte pieces")
        precondition(maxPieceLength >= 1, "maxPieceLength must be at least 1, got \(maxPieceLength)")
        self.vocabularySize = vocabularySize
        self.specialTokens = specialTokens
        self.addedTokens = addedTokens.map { AddedToken(content: $0.content, special: $0.special) }
        self.byteFallback = byteFallback
        self.splitDigits = splitDigits
        self.splitByUnicodeScript = splitByUnicodeScript
        self.maxPieceLength = maxPieceLength
    }

    /// Trains on `texts` (one document each). Training stops early, with a smaller vocabulary,
    /// only if no pair is left to merge.
    public func train(texts: [String]) -> TrainedBPE {
        let words = WordCounts(texts: texts, cutAt: specialTokens + addedTokens.map(\.content),
                               splitDigits: splitDigits, splitByUnicodeScript: splitByUnicodeScript)
        var reserved = specialTokens
        if byteFallback { reserved += (0..<256).map { byteFallbackPiece(UInt8($0)) } }
        let capacity = vocabularySize - reserved.count
        var state = MergeState(words: words, reserved: reserved, alphabetCapacity: capacity,
                               maxPieceLength: maxPieceLength)
        while state.pieceCount < capacity, state.mergeBest() {}
        let model = reserved + state.pieces.map(WordCounts.string)
        let merges = state.merges.map { (left, right) in
            TrainedBPE.Merge(left: model[reserved.count + left], right: model[reserved.count + right])
        }
        return TrainedBPE(vocabulary: model, merges: merges, specialCount: specialTokens.count,
                          addedTokens: addedTokens, byteFallback: byteFallback)
    }
}

// MARK: - words

/// Distinct words (as scalar values) with their counts, in order of first appearance.
struct WordCounts {
    private(set) var words: [[UInt32]] = []
    private(set) var counts: [Int] = []
    private var index: [[UInt32]: Int] = [:]

    static let metaspace: UInt32 = 0x2581

    init(texts: [String], cutAt tokens: [String], splitDigits: Bool, splitByUnicodeScript: Bool) {
        // Longest first, so "<image>" wins over a token that is its prefix.
        let cuts = tokens.map { $0.unicodeScalars.map(\.value) }.sorted { $0.count > $1.count }
        for text in texts {
            for segment in Self.segments(of: text.unicodeScalars.map(\.value), cutAt: cuts) {
                addWords(of: Self.normalized(segment), splitDigits: splitDigits, splitByScript: splitByUnicodeScript)
            }
        }
    }

    /// The pieces of `text` between occurrences of `cuts` (matched exactly, by scalars).
    static func segments(of text: [UInt32], cutAt cuts: [[UInt32]]) -> [ArraySlice<UInt32>] {
        var result: [ArraySlice<UInt32>] = []
        var start = 0, i = 0
        while i < text.count {
            if let cut = cuts.first(where: { text[i...].starts(with: $0) }) {
                if start < i { result.append(text[start..<i]) }
                i += cut.count
                start = i
            } else {
                i += 1
            }
        }
        if start < text.count { result.append(text[start...]) }
        return result
    }

    /// HF legacy normaliser: Prepend("▁") then Replace(" ", "▁").
    static func normalized(_ segment: ArraySlice<UInt32>) -> [UInt32] {
        [metaspace] + segment.map { $0 == 0x20 ? metaspace : $0 }
    }

    static func string(_ scalars: [UInt32]) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars.compactMap(Unicode.Scalar.init))
        return text
    }

    static func isDigit(_ scalar: UInt32) -> Bool { scalar >= 0x30 && scalar <= 0x39 }

    /// SentencePiece's `SplitIntoWords` with whitespace-only pieces allowed, plus `split_digits`
    /// and `split_by_unicode_script`.
    private mutating func addWords(of text: [UInt32], splitDigits: Bool, splitByScript: Bool) {
        var word: [UInt32] = []
        var wordScript: UnicodeScriptClass?   // of the word's last scalar that has one
        for (i, scalar) in text.enumerated() {
            let previous = i > 0 ? text[i - 1] : nil
            var startsWord = (scalar == Self.metaspace && previous != Self.metaspace)
                || (splitDigits && (Self.isDigit(scalar) || previous.map(Self.isDigit) == true))
            let script = splitByScript && scalar != Self.metaspace ? UnicodeScriptClass(scalar) : nil
            if let script, script != .inherited, let wordScript, wordScript != script { startsWord = true }
            if startsWord, !word.isEmpty {
                add(word)
                word.removeAll(keepingCapacity: true)
                wordScript = nil
            }
            word.append(scalar)
            if let script, script != .inherited { wordScript = script }
        }
        if !word.isEmpty { add(word) }
    }

    private mutating func add(_ word: [UInt32]) {
        if let i = index[word] {
            counts[i] += 1
        } else {
            index[word] = words.count
            words.append(word)
            counts.append(1)
        }
    }
}

/// The script of a scalar as far as `split_by_unicode_script` needs it: punctuation, symbols,
/// separators, digits and controls are `common`; combining marks are `inherited` (they join the
/// script before them); letters go by the blocks of the major scripts, with Hiragana and
/// Katakana counted as Han as SentencePiece does, and any other letter by its 128-scalar block.
/// An approximation of Unicode's Scripts.txt that is exact for Latin text and punctuation.
enum UnicodeScriptClass: Hashable {
    case common, inherited, latin, greek, cyrillic, armenian, hebrew, arabic, devanagari, thai
    case hangul, han
    case other(block: UInt32)

    init(_ value: UInt32) {
        guard let scalar = Unicode.Scalar(value) else { self = .common; return }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark:
            self = .inherited; return
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .letterNumber:
            break
        default:
            self = .common; return
        }
        switch value {
        case 0x41...0x24F, 0x1E00...0x1EFF, 0x2C60...0x2C7F, 0xA720...0xA7FF, 0xFF21...0xFF5A: self = .latin
        case 0x370...0x3FF, 0x1F00...0x1FFF: self = .greek
        case 0x400...0x52F, 0x2DE0...0x2DFF, 0xA640...0xA69F: self = .cyrillic
        case 0x530...0x58F: self = .armenian
        case 0x590...0x5FF: self = .hebrew
        case 0x600...0x6FF, 0x750...0x77F, 0x8A0...0x8FF: self = .arabic
        case 0x900...0x97F: self = .devanagari
        case 0xE00...0xE7F: self = .thai
        case 0x1100...0x11FF, 0x3130...0x318F, 0xAC00...0xD7AF: self = .hangul
        case 0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0xFF66...0xFF9F, 0x20000...0x3FFFF:
            self = .han
        default: self = .other(block: value >> 7)
        }
    }
}
