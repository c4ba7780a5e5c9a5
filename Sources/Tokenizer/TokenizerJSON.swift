import Foundation

// The shapes of HF `tokenizer.json`, decoded as they are written; meaning is given to them by
// `BPEModel`, `Normalizer`, `PreTokenizer`, `Decoder` and `AddedVocabulary`.
// Components this package does not implement throw `SchemaError.unsupported` with their key.

struct TokenizerJSON: Decodable {
    var addedTokens: [AddedTokenSpec]
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer?
    var model: ModelSpec
    var decoder: TokenDecoder?
    var postProcessor: PostProcessorSpec?

    enum CodingKeys: String, CodingKey {
        case addedTokens = "added_tokens", normalizer, preTokenizer = "pre_tokenizer", model, decoder
        case postProcessor = "post_processor"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        addedTokens = try c.decodeIfPresent([AddedTokenSpec].self, forKey: .addedTokens) ?? []
        normalizer = try c.decodeIfPresent(Normalizer.self, forKey: .normalizer)
        preTokenizer = try c.decodeIfPresent(PreTokenizer.self, forKey: .preTokenizer)
        model = try c.decode(ModelSpec.self, forKey: .model)
        self.decoder = try c.decodeIfPresent(TokenDecoder.self, forKey: .decoder)
        postProcessor = try c.decodeIfPresent(PostProcessorSpec.self, forKey: .postProcessor)
    }
}

// MARK: - added tokens

struct AddedTokenSpec: Decodable {
    var id: Int
    var content: String
    var singleWord: Bool
    var lstrip: Bool
    var rstrip: Bool
    var normalized: Bool
    var special: Bool

    enum CodingKeys: String, CodingKey {
        case id, content, singleWord = "single_word", lstrip, rstrip, normalized, special
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        content = try c.decode(String.self, forKey: .content)
        singleWord = try c.decodeIfPresent(Bool.self, forKey: .singleWord) ?? false
        lstrip = try c.decodeIfPresent(Bool.self, forKey: .lstrip) ?? false
        rstrip = try c.decodeIfPresent(Bool.self, forKey: .rstrip) ?? false
        special = try c.decodeIfPresent(Bool.self, forKey: .special) ?? false
        normalized = try c.decodeIfPresent(Bool.self, forKey: .normalized) ?? !special
    }
}

// MARK: - model

struct ModelSpec: Decodable {
    /// Filled by `VocabularyJSON` from the raw bytes, not here: a `[String: Int]` would merge
    /// canonically equivalent pieces (see there).
    var vocab: [(piece: String, id: Int)] = []
    var merges: [MergeEntry]
    var unkToken: String?
    var fuseUnk: Bool
    var byteFallback: Bool
    var ignoreMerges: Bool

    enum CodingKeys: String, CodingKey {
        case type, vocab, merges, unkToken = "unk_token", fuseUnk = "fuse_unk", byteFallback = "byte_fallback"
        case ignoreMerges = "ignore_merges", continuingSubwordPrefix = "continuing_subword_prefix"
        case endOfWordSuffix = "end_of_word_suffix"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Old files omit `type`; a BPE model is the one with merges.
        let type = try c.decodeIfPresent(String.self, forKey: .type) ?? (c.contains(.merges) ? "BPE" : "unknown")
        guard type == "BPE" else { throw SchemaError(.unsupported(type), at: c.codingPath + [CodingKeys.type]) }
        for affix in [CodingKeys.continuingSubwordPrefix, .endOfWordSuffix] {
            if let value = try c.decodeIfPresent(String.self, forKey: affix), !value.isEmpty {
                throw SchemaError(.unsupported(value), at: c.codingPath + [affix])
            }
        }
        // Only checked to be an object here (missing key and wrong type errors name the key).
        _ = try c.nestedContainer(keyedBy: CodingKeys.self, forKey: .vocab)
        merges = try c.decode([MergeEntry].self, forKey: .merges)
        unkToken = try c.decodeIfPresent(String.self, forKey: .unkToken)
        fuseUnk = try c.decodeIfPresent(Bool.self, forKey: .fuseUnk) ?? false
        byteFallback = try c.decodeIfPresent(Bool.self, forKey: .byteFallback) ?? false
        ignoreMerges = try c.decodeIfPresent(Bool.self, forKey: .ignoreMerges) ?? false
    }
}

/// One merge, spelled `"a b"` (tokenizers < 0.20) or `["a", "b"]`; a bad entry is kept so the
/// model can report its index.
enum MergeEntry: Decodable {
    case pair(String, String)
    case bad(String)

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self) {
            // Split on the space scalar, not on Characters: a right piece that starts with a
            // combining mark would otherwise fuse with the space into one Character.
            let parts = text.unicodeScalars.split(separator: " ", omittingEmptySubsequences: false)
            self = parts.count == 2 ? .pair(String(String.UnicodeScalarView(parts[0])), String(String.UnicodeScalarView(parts[1])))
                                    : .bad("\"\(text)\"")
        } else if let parts = try? c.decode([String].self) {
            self = parts.count == 2 ? .pair(parts[0], parts[1]) : .bad("\(parts)")
        } else {
            self = .bad("a value that is neither a string nor an array of strings")
        }
    }
}

// MARK: - normalizer, pre-tokenizer, decoder, post-processor

/// `{"type": "…", …}` objects: reads the tag, the rest is read by each component.
struct TypeTag: Decodable {
    var type: String
}

/// `Replace` patterns are `{"String": " "}` or `{"Regex": "…"}`; only the first is implemented.
struct ReplacePattern: Decodable {
    var string: String

    enum CodingKeys: String, CodingKey { case string = "String", regex = "Regex" }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let regex = try c.decodeIfPresent(String.self, forKey: .regex) {
            throw SchemaError(.unsupported("Regex \(regex)"), at: c.codingPath + [CodingKeys.regex])
        }
        string = try c.decode(String.self, forKey: .string)
    }
}

/// Metaspace's `prepend_scheme`, or the older boolean `add_prefix_space`.
enum PrependScheme: String, Decodable {
    case always, first, never
}

struct MetaspaceSpec: Decodable {
    var replacement: Character
    var prependScheme: PrependScheme
    var split: Bool

    enum CodingKeys: String, CodingKey {
        case replacement, strRep = "str_rep", prependScheme = "prepend_scheme"
        case addPrefixSpace = "add_prefix_space", split
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decodeIfPresent(String.self, forKey: .replacement)
            ?? c.decodeIfPresent(String.self, forKey: .strRep) ?? "▁"
        guard text.unicodeScalars.count == 1, let character = text.first else {
            throw SchemaError(.invalidValue("\"\(text)\"", expected: "one character"),
                              at: c.codingPath + [CodingKeys.replacement])
        }
        replacement = character
        if let scheme = try c.decodeIfPresent(PrependScheme.self, forKey: .prependScheme) {
            prependScheme = scheme
        } else {
            let addPrefixSpace = try c.decodeIfPresent(Bool.self, forKey: .addPrefixSpace) ?? true
            prependScheme = addPrefixSpace ? .always : .never
        }
        split = try c.decodeIfPresent(Bool.self, forKey: .split) ?? true
    }
}

struct TemplatePiece: Decodable {
    /// Set for `{"SpecialToken": {"id": "<s>"}}`; nil for `{"Sequence": {"id": "A"}}`.
    var specialToken: String?

    enum CodingKeys: String, CodingKey { case specialToken = "SpecialToken", sequence = "Sequence" }
    struct Reference: Decodable { var id: String }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        specialToken = try c.decodeIfPresent(Reference.self, forKey: .specialToken)?.id
    }
}

/// The token ids a post-processor puts around a single sequence.
struct PostProcessorSpec: Decodable {
    var prefix: [Int] = []
    var suffix: [Int] = []

    enum CodingKeys: String, CodingKey { case type, single, specialTokens = "special_tokens", processors }
    struct SpecialTokenIDs: Decodable { var ids: [Int] }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "TemplateProcessing":
            let single = try c.decode([TemplatePiece].self, forKey: .single)
            let ids = try c.decodeIfPresent([String: SpecialTokenIDs].self, forKey: .specialTokens) ?? [:]
            let sequenceAt = single.firstIndex { $0.specialToken == nil } ?? single.count
            let idsOf = { (pieces: ArraySlice<TemplatePiece>) in
                pieces.flatMap { ids[$0.specialToken ?? ""]?.ids ?? [] }
            }
            prefix = idsOf(single[..<sequenceAt])
            suffix = idsOf(single[sequenceAt...].dropFirst())
        case "Sequence":
            for processor in try c.decode([PostProcessorSpec].self, forKey: .processors) {
                prefix += processor.prefix
                suffix += processor.suffix
            }
        case "ByteLevel":
            break  // only adjusts offsets
        default:
            throw SchemaError(.unsupported(type), at: c.codingPath + [CodingKeys.type])
        }
    }
}
