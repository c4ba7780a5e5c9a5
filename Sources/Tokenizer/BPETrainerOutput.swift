import Foundation
import JSONText

/// A tokenizer made by `BPETrainer`, written as HF files in LLaMA's legacy spelling: BPE model
/// with byte fallback and "a b" merges, normaliser Prepend("▁") + Replace(" ", "▁"), decoder
/// Replace/ByteFallback/Fuse/Strip, and a template that puts `<s>` first.
///
/// ```swift
/// let trained = BPETrainer(vocabularySize: 1000).train(texts: lines)
/// try trained.write(to: URL(fileURLWithPath: "tiny-llama"))   // tokenizer.json + tokenizer_config.json
/// ```
public struct TrainedBPE: Sendable {
    /// One learnt merge, `left` + `right` → one piece, in the order learnt (its rank).
    public struct Merge: Sendable, Equatable {
        public var left: String
        public var right: String
        public init(left: String, right: String) {
            self.left = left
            self.right = right
        }
    }

    /// id → piece of the BPE model (specials, byte pieces, alphabet, merged pieces).
    public let vocabulary: [String]
    /// Merges in rank order; `left + right` is a piece of `vocabulary`.
    public let merges: [Merge]
    /// Added tokens with their ids (after the model vocabulary; an added token that is already
    /// a model piece keeps that piece's id, as HF does).
    public let addedTokens: [(id: Int, token: BPETrainer.AddedToken)]
    public let byteFallback: Bool
    /// How many leading pieces are special tokens (unk, bos, eos, …).
    public let specialCount: Int

    public var unknownToken: String { vocabulary[0] }
    public var bosToken: String { vocabulary[1] }
    public var eosToken: String { vocabulary[2] }
    /// Model vocabulary plus added tokens.
    public var totalSize: Int { max(vocabulary.count, (addedTokens.map(\.id).max() ?? -1) + 1) }

    init(vocabulary: [String], merges: [Merge], specialCount: Int, addedTokens: [BPETrainer.AddedToken],
         byteFallback: Bool) {
        self.vocabulary = vocabulary
        self.merges = merges
        self.specialCount = specialCount
        self.byteFallback = byteFallback
        var ids: [[UInt32]: Int] = [:]
        for (id, piece) in vocabulary.enumerated() { ids[piece.unicodeScalars.map(\.value)] = id }
        var added: [(id: Int, token: BPETrainer.AddedToken)] = []
        var next = vocabulary.count
        for token in addedTokens {
            let key = token.content.unicodeScalars.map(\.value)
            if let id = ids[key] {
                if id >= vocabulary.count { continue }   // listed twice
                added.append((id, token))
            } else {
                ids[key] = next
                added.append((next, token))
                next += 1
            }
        }
        self.addedTokens = added
    }

    // MARK: - files

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `directory` (created if needed),
    /// each atomically.
    public func write(to directory: URL, modelMaxLength: Int = 4096) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(tokenizerJSON().utf8).write(to: directory.appendingPathComponent("tokenizer.json"), options: .atomic)
        try Data(tokenizerConfigJSON(modelMaxLength: modelMaxLength).utf8)
            .write(to: directory.appendingPathComponent("tokenizer_config.json"), options: .atomic)
    }

    /// HF `tokenizer_config.json`. The class is the generic `PreTrainedTokenizerFast`:
    /// transformers 5 rebuilds a `LlamaTokenizerFast` from vocab + merges with its own
    /// Metaspace(prepend_scheme: "always") pre-tokenizer and drops this file's normaliser,
    /// which changes ids of text after an added token or with leading spaces.
    public func tokenizerConfigJSON(modelMaxLength: Int) -> String {
        var fields: [(String, String)] = [
            ("tokenizer_class", jsonString("PreTrainedTokenizerFast")),
            ("add_bos_token", "true"),
            ("add_eos_token", "false"),
            ("bos_token", jsonString(bosToken)),
            ("eos_token", jsonString(eosToken)),
            ("unk_token", jsonString(unknownToken)),
        ]
        if addedTokens.contains(where: { $0.token.content == "<pad>" }) { fields.append(("pad_token", jsonString("<pad>"))) }
        fields += [
            ("model_max_length", "\(modelMaxLength)"),
            ("clean_up_tokenization_spaces", "false"),
            ("legacy", "true"),
        ]
        return "{\n" + fields.map { " \(jsonString($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// HF `tokenizer.json`, in the layout transformers wrote for LLaMA-2 / LLaVA-1.5.
    public func tokenizerJSON() -> String {
        var out = "{\n \"version\": \"1.0\",\n \"truncation\": null,\n \"padding\": null,\n"
        out += " \"added_tokens\": [\n" + addedTokensJSON().joined(separator: ",\n") + "\n ],\n"
        out += """
         "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u{2581}"}, \
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"}]},
         "pre_tokenizer": null,
         "post_processor": \(postProcessorJSON()),
         "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u{2581}"}, \
        "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, \
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
         "model": {
          "type": "BPE",
          "dropout": null,
          "unk_token": \(jsonString(unknownToken)),
          "continuing_subword_prefix": null,
          "end_of_word_suffix": null,
          "fuse_unk": true,
          "byte_fallback": \(byteFallback),
          "ignore_merges": false,
          "vocab": {\n
        """
        out += vocabulary.enumerated().map { "   \(jsonString($1)): \($0)" }.joined(separator: ",\n")
        out += "\n  },\n  \"merges\": [\n"
        let asStrings = mergesAsStrings
        out += merges.map { asStrings ? "   " + jsonString("\($0.left) \($0.right)")
                                      : "   [\(jsonString($0.left)), \(jsonString($0.right))]" }
            .joined(separator: ",\n")
        out += "\n  ]\n }\n}\n"
        return out
    }

    /// Merges are written "a b", as LLaMA's files have them, unless a right piece starts with a
    /// combining scalar: then " " + that scalar is one `Character`, and a reader that splits by
    /// `Character` (this package's `MergeEntry` does) would not find the space, so every merge
    /// is written as a ["a", "b"] pair instead (tokenizers ≥ 0.20 reads both; the list cannot mix).
    public var mergesAsStrings: Bool {
        merges.allSatisfy { "\($0.left) \($0.right)".split(separator: " ", omittingEmptySubsequences: false).count == 2 }
    }

    private func addedTokensJSON() -> [String] {
        let specials = vocabulary.prefix(specialCount).enumerated().map { ($0, $1, true) }
        let added = addedTokens.map { ($0.id, $0.token.content, $0.token.special) }
        return (specials + added).map { id, content, special in
            "  {\"id\": \(id), \"content\": \(jsonString(content)), \"single_word\": false, \"lstrip\": false, "
                + "\"rstrip\": false, \"normalized\": false, \"special\": \(special)}"
        }
    }

    private func postProcessorJSON() -> String {
        let bos = jsonString(bosToken)
        func special(_ type: Int) -> String { "{\"SpecialToken\": {\"id\": \(bos), \"type_id\": \(type)}}" }
        func sequence(_ id: String, _ type: Int) -> String { "{\"Sequence\": {\"id\": \"\(id)\", \"type_id\": \(type)}}" }
        return "{\"type\": \"TemplateProcessing\", "
            + "\"single\": [\(special(0)), \(sequence("A", 0))], "
            + "\"pair\": [\(special(0)), \(sequence("A", 0)), \(special(1)), \(sequence("B", 1))], "
            + "\"special_tokens\": {\(bos): {\"id\": \(bos), \"ids\": [1], \"tokens\": [\(bos)]}}}"
    }
}
