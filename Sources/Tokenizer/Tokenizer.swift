import Foundation

/// A Hugging Face `tokenizer.json` tokenizer: SentencePiece-style BPE with byte fallback, in
/// both spellings LLaMA checkpoints use (legacy `Prepend`+`Replace` normalizer, or a
/// `Metaspace` pre-tokenizer), with added/special tokens such as LLaVA's `<image>`.
///
/// ```swift
/// let tokenizer = try Tokenizer(directory: URL(fileURLWithPath: "llava-1.5-7b-hf"))
/// let ids = tokenizer.encode("USER: <image>\nWhat is shown? ASSISTANT:")   // starts with BOS
/// let text = tokenizer.decode(ids)                                         // specials skipped
/// ```
///
/// Immutable after `init`, so one instance may be shared between threads.
public final class Tokenizer: @unchecked Sendable {
    let model: BPEModel
    let added: AddedVocabulary
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let decoder: TokenDecoder?
    /// Ids put before / after the text when `addSpecialTokens` is true.
    private let prefixIDs: [Int]
    private let suffixIDs: [Int]
    private let pieces: [String?]

    public let vocabularySize: Int
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let padTokenID: Int?
    public let unknownTokenID: Int?

    /// Reads `tokenizer.json` and, if present, `tokenizer_config.json` from `directory`.
    public convenience init(directory: URL) throws {
        let jsonURL = directory.appendingPathComponent("tokenizer.json")
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        guard let json = FileManager.default.contents(atPath: jsonURL.path) else {
            throw TokenizerError.missingFile(path: jsonURL.path)
        }
        let config = FileManager.default.contents(atPath: configURL.path)
        try self.init(tokenizerJSON: json, configJSON: config, source: directory.path)
    }

    /// - Parameter source: where the data came from, used in error messages.
    public init(tokenizerJSON: Data, configJSON: Data?, source: String) throws {
        let jsonName = source.hasSuffix(".json") ? source : source + "/tokenizer.json"
        let configName = source + "/tokenizer_config.json"
        var spec = try decodeJSON(TokenizerJSON.self, from: tokenizerJSON, file: jsonName)
        spec.model.vocab = try VocabularyJSON.entries(in: tokenizerJSON, file: jsonName)
        let config = try configJSON.map { try decodeJSON(TokenizerConfiguration.self, from: $0, file: configName) }
            ?? TokenizerConfiguration()
        model = try BPEModel(spec.model, file: jsonName)
        added = AddedVocabulary(spec.addedTokens)
        normalizer = spec.normalizer
        preTokenizer = spec.preTokenizer
        decoder = spec.decoder
        pieces = Self.mergedPieces(model.pieces, added)
        vocabularySize = pieces.count

        let lookup = { [added, model] (name: String?) in name.flatMap { added.id(of: $0) ?? model.id(of: $0) } }
        let template = spec.postProcessor
        let bos = lookup(config.bosToken) ?? template?.prefix.first
        let eos = lookup(config.eosToken) ?? template?.suffix.last
        bosTokenID = bos
        eosTokenID = eos
        padTokenID = lookup(config.padToken)
        unknownTokenID = lookup(config.unkToken) ?? model.unknownID
        // Either key in the config rebuilds the template from both, as transformers does.
        if config.addBOSToken != nil || config.addEOSToken != nil {
            prefixIDs = config.addBOSToken == true ? [bos].compactMap { $0 } : []
            suffixIDs = config.addEOSToken == true ? [eos].compactMap { $0 } : []
        } else {
            prefixIDs = template?.prefix ?? []
            suffixIDs = template?.suffix ?? []
        }
    }

    private static func mergedPieces(_ modelPieces: [String?], _ added: AddedVocabulary) -> [String?] {
        var pieces = modelPieces
        let size = max(pieces.count, (added.tokens.keys.max() ?? -1) + 1)
        pieces += Array(repeating: nil, count: size - pieces.count)
        for (id, token) in added.tokens { pieces[id] = token.content.string }
        return pieces
    }

    public var addsBOS: Bool { prefixIDs.contains { $0 == bosTokenID } }
    public var addsEOS: Bool { suffixIDs.contains { $0 == eosTokenID } }

    // MARK: - encoding

    /// Token ids of `text`; with `addSpecialTokens`, BOS/EOS as the configuration asks.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids = addSpecialTokens ? prefixIDs : []
        for piece in added.splitRaw(Array(text.unicodeScalars)) {
            switch piece {
            case .added(let id): ids.append(id)
            case .text(let segment, let offset): ids += encodeSegment(segment, atStart: offset == 0)
            }
        }
        if addSpecialTokens { ids += suffixIDs }
        return ids
    }

    /// Normalizes the text between two added tokens, then runs the pre-tokenizer and BPE.
    private func encodeSegment(_ segment: [Unicode.Scalar], atStart: Bool) -> [Int] {
        let normalized = normalizer?.normalize(segment) ?? segment
        var ids: [Int] = []
        for piece in added.splitNormalized(normalized) {
            switch piece {
            case .added(let id): ids.append(id)
            case .text(let text, let offset):
                let words = preTokenizer?.split([text], atStart: atStart && offset == 0) ?? [text]
                for word in words { ids += model.tokenize(word) }
            }
        }
        return ids
    }

    // MARK: - decoding

    /// The text of `ids`; ids outside the vocabulary are ignored.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        let tokens = ids.compactMap { id -> String? in
            if skipSpecialTokens, isSpecial(id) { return nil }
            return token(of: id)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// The raw pieces of `ids`, e.g. `["▁Hello", "<0x0A>"]`; "" for an id outside the vocabulary.
    public func tokens(for ids: [Int]) -> [String] { ids.map { token(of: $0) ?? "" } }

    public func id(of token: String) -> Int? { added.id(of: token) ?? model.id(of: token) }

    public func token(of id: Int) -> String? { pieces.indices.contains(id) ? pieces[id] : nil }

    /// Whether `id` is an added token marked `special` (what `skipSpecialTokens` drops).
    public func isSpecial(_ id: Int) -> Bool { added.tokens[id]?.special ?? false }
}

private func decodeJSON<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch {
        throw TokenizerError.wrapping(error, file: file)
    }
}
