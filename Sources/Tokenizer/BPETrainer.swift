import Foundation

/// Trains a SentencePiece-style BPE tokenizer the way LLaMA's was made, and writes it in the
/// HF "legacy" spelling that `Tokenizer` reads (see `TrainedBPE`).
///
/// Training, in SentencePiece's terms (`model_type=bpe`, `add_dummy_prefix`,
/// `remove_extra_whitespaces=false`, `allow_whitespace_only_pieces`, `split_digits`,
/// `byte_fallback`, `character_coverage=1.0`):
/// 1. each text is cut at special and added tokens (HF matches those first, then normalises
///    every remaining segment on its own), and each segment is normalised: "▁" prepended,
///    " " → "▁";
/// 2. a segment splits into words before every "▁" that does not follow a "▁" (so a run of
///    spaces stays with the word after it), and around every ASCII digit when `splitDigits`;
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
    /// Longest merged piece, in Unicode scalars (SentencePiece's `max_sentencepiece_length`).
    public let maxPieceLength: Int

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
                splitDigits: Bool = true, maxPieceLength: Int = 16) {
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
        self.maxPieceLength = maxPieceLength
    }

    /// Trains on `texts` (one document each). Training stops early, with a smaller vocabulary,
    /// only if no pair is left to merge.
    public func train(texts: [String]) -> TrainedBPE {
        let words = WordCounts(texts: texts, cutAt: specialTokens + addedTokens.map(\.content),
                               splitDigits: splitDigits)
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

    init(texts: [String], cutAt tokens: [String], splitDigits: Bool) {
        // Longest first, so "<image>" wins over a token that is its prefix.
        let cuts = tokens.map { $0.unicodeScalars.map(\.value) }.sorted { $0.count > $1.count }
        for text in texts {
            for segment in Self.segments(of: text.unicodeScalars.map(\.value), cutAt: cuts) {
                addWords(of: Self.normalized(segment), splitDigits: splitDigits)
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

    /// SentencePiece's `SplitIntoWords` with whitespace-only pieces allowed, plus `split_digits`.
    private mutating func addWords(of text: [UInt32], splitDigits: Bool) {
        var word: [UInt32] = []
        for (i, scalar) in text.enumerated() {
            let previous = i > 0 ? text[i - 1] : nil
            let startsWord = (scalar == Self.metaspace && previous != Self.metaspace)
                || (splitDigits && (Self.isDigit(scalar) || previous.map(Self.isDigit) == true))
            if startsWord, !word.isEmpty {
                add(word)
                word.removeAll(keepingCapacity: true)
            }
            word.append(scalar)
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
