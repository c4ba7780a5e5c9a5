import Checkpoint
import Foundation
import JSONText
import Tokenizer

/// The tokenizer of a GGUF file, rebuilt from its metadata (`tokenizer.ggml.*`) as the
/// `tokenizer.json` a Hugging Face conversion of the same vocabulary would hold, so the one
/// tokenizer implementation serves both formats.
///
/// - `llama` (SentencePiece): pieces with scores; merges are every split of a normal piece into
///   two pieces of the vocabulary, ranked by the merged piece's score, which is how
///   SentencePiece's BPE picks the next merge (and how transformers converts such models).
/// - `gpt2` (byte-level BPE): pieces and `tokenizer.ggml.merges`, split by the pre-tokenizer
///   regex that `tokenizer.ggml.pre` names.
///
/// ```swift
/// let tokenizer = try Tokenizer(gguf: GGUFFile(url: URL(fileURLWithPath: "model.gguf")))
/// ```
extension Tokenizer {
    public convenience init(gguf file: GGUFFile) throws {
        let spec = try GGUFTokenizerSpec(file: file)
        try self.init(tokenizerJSON: try spec.tokenizerJSON(), configJSON: try spec.configJSON(),
                      source: file.url.path + "#tokenizer")
    }

    /// Writes a GGUF file's tokenizer as the Hugging Face files this initializer reads, which
    /// transformers' `AutoTokenizer` loads too: `tokenizer.json`, `tokenizer_config.json` (with
    /// the file's chat template, if any) and `special_tokens_map.json`, each atomically.
    ///
    /// ```swift
    /// try Tokenizer.writeFiles(gguf: GGUFFile(url: URL(fileURLWithPath: "model.gguf")),
    ///                          to: URL(fileURLWithPath: "model-hf"))
    /// ```
    public static func writeFiles(gguf file: GGUFFile, to directory: URL) throws {
        let spec = try GGUFTokenizerSpec(file: file)
        try AtomicFile.write(try spec.tokenizerJSON(), to: directory.appendingPathComponent("tokenizer.json"))
        try AtomicFile.write(try spec.configJSON(), to: directory.appendingPathComponent("tokenizer_config.json"))
        let map = try JSONSerialization.data(withJSONObject: try spec.specialTokens(), options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(map, to: directory.appendingPathComponent("special_tokens_map.json"))
    }
}

/// llama.cpp's token types.
enum GGUFTokenType: Int {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

struct GGUFTokenizerSpec {
    let file: GGUFFile
    let kind: String
    let pieces: [String]
    let types: [GGUFTokenType]
    let scores: [Double]
    let metadata: GGUFMetadata

    init(file: GGUFFile) throws {
        self.file = file
        metadata = GGUFMetadata(file)
        kind = try metadata.string("tokenizer.ggml.model")
        guard kind == "llama" || kind == "gpt2" else {
            throw GGUFError.invalidMetadata(file: file.url.path, key: "tokenizer.ggml.model",
                                            reason: "tokenizer '\(kind)' is not supported (llama, gpt2)")
        }
        let tokens = try metadata.array("tokenizer.ggml.tokens")
        pieces = try tokens.enumerated().map { i, v in
            guard let s = v.string else {
                throw GGUFError.invalidMetadata(file: file.url.path, key: "tokenizer.ggml.tokens", reason: "entry \(i) is a \(v.kind)")
            }
            return s
        }
        let rawTypes = try metadata.optionalArray("tokenizer.ggml.token_type") ?? []
        types = pieces.indices.map { i in i < rawTypes.count ? GGUFTokenType(rawValue: rawTypes[i].int ?? 1) ?? .normal : .normal }
        let rawScores = try metadata.optionalArray("tokenizer.ggml.scores") ?? []
        scores = pieces.indices.map { i in i < rawScores.count ? rawScores[i].double ?? 0 : 0 }
        guard rawTypes.isEmpty || rawTypes.count == pieces.count, rawScores.isEmpty || rawScores.count == pieces.count else {
            throw GGUFError.invalidMetadata(file: file.url.path, key: "tokenizer.ggml.token_type",
                                            reason: "\(rawTypes.count) types and \(rawScores.count) scores for \(pieces.count) tokens")
        }
    }

    private func piece(_ key: String) throws -> String? {
        guard let id = try metadata.optionalInt(key) else { return nil }
        guard id < pieces.count else {
            throw GGUFError.invalidMetadata(file: file.url.path, key: key, reason: "id \(id) is outside the \(pieces.count) tokens")
        }
        return pieces[id]
    }

    /// `tokenizer_config.json`: the generic `PreTrainedTokenizerFast` class, so transformers
    /// reads `tokenizer.json` as it is (transformers 5 rebuilds a `LlamaTokenizerFast` from vocab
    /// and merges with its own pre-tokenizer), the special tokens and the chat template.
    func configJSON() throws -> Data {
        var config: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false,
            "add_bos_token": try addsBOS(), "add_eos_token": try addsEOS(),
        ]
        for (key, piece) in try specialTokens() { config[key] = piece }
        if kind == "llama" { config["legacy"] = true }
        if let template = try metadata.optionalString("tokenizer.chat_template") { config["chat_template"] = template }
        return try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
    }

    private func addsBOS() throws -> Bool { try metadata.optionalBool("tokenizer.ggml.add_bos_token") ?? (kind == "llama") }
    private func addsEOS() throws -> Bool { try metadata.optionalBool("tokenizer.ggml.add_eos_token") ?? false }

    /// `bos_token`, `eos_token`, `unk_token`, `pad_token` for the ids the file names.
    func specialTokens() throws -> [String: String] {
        var tokens: [String: String] = [:]
        for (key, gguf) in [("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"), ("unk_token", "unknown_token_id"),
                            ("pad_token", "padding_token_id")] {
            tokens[key] = try piece("tokenizer.ggml." + gguf)
        }
        return tokens
    }

    /// `tokenizer.json` as transformers writes it: the vocabulary in id order, byte-exact (two
    /// pieces that differ only in Unicode normalisation stay two entries; a piece given twice
    /// keeps its first id), a post-processor that adds BOS as `add_bos_token` says.
    func tokenizerJSON() throws -> Data {
        let added: [[String: Any]] = pieces.indices.compactMap { i in
            let t = types[i]
            guard t == .control || t == .unknown || t == .userDefined else { return nil }
            return ["id": i, "content": pieces[i], "single_word": false, "lstrip": false, "rstrip": false,
                    "normalized": false, "special": t != .userDefined]
        }
        var json: [String: Any] = ["version": "1.0", "added_tokens": added, "truncation": NSNull(), "padding": NSNull(),
                                   "post_processor": try postProcessor()]
        if kind == "llama" {
            var vocab: [String: Int] = [:]
            for (i, p) in pieces.enumerated() where vocab[p] == nil { vocab[p] = i }
            try sentencePiece(into: &json, vocab: vocab)
        } else {
            try byteLevel(into: &json)
        }
        var model = json["model"] as! [String: Any]
        model["vocab"] = Self.vocabularyMark
        json["model"] = model
        let text = String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
        return Data(text.replacingOccurrences(of: "\"\(Self.vocabularyMark)\"", with: vocabularyText()).utf8)
    }

    private static let vocabularyMark = "@@vocabulary@@"

    private func vocabularyText() -> String {
        var seen = Set<[UInt8]>()
        let entries = pieces.enumerated().compactMap { i, p in seen.insert(Array(p.utf8)).inserted ? "\(jsonString(p)):\(i)" : nil }
        return "{" + entries.joined(separator: ",") + "}"
    }

    /// BOS (and EOS) around each sequence as the file's `add_*_token` flags say; byte-level
    /// offsets otherwise.
    private func postProcessor() throws -> Any {
        let bos = try addsBOS() ? try piece("tokenizer.ggml.bos_token_id") : nil
        let eos = try addsEOS() ? try piece("tokenizer.ggml.eos_token_id") : nil
        guard bos != nil || eos != nil else {
            return kind == "gpt2" ? ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true] as Any : NSNull()
        }
        func special(_ p: String?, _ type: Int) -> [[String: Any]] { p.map { [["SpecialToken": ["id": $0, "type_id": type]]] } ?? [] }
        func sequence(_ id: String, _ type: Int) -> [[String: Any]] { [["Sequence": ["id": id, "type_id": type]]] }
        var specials: [String: Any] = [:]
        for (key, p) in [("tokenizer.ggml.bos_token_id", bos), ("tokenizer.ggml.eos_token_id", eos)] {
            if let p, let id = try metadata.optionalInt(key) { specials[p] = ["id": p, "ids": [id], "tokens": [p]] }
        }
        return ["type": "TemplateProcessing", "special_tokens": specials,
                "single": special(bos, 0) + sequence("A", 0) + special(eos, 0),
                "pair": special(bos, 0) + sequence("A", 0) + special(eos, 0) + special(bos, 1) + sequence("B", 1) + special(eos, 1)]
    }

    private func sentencePiece(into json: inout [String: Any], vocab: [String: Int]) throws {
        let prefix = try metadata.optionalBool("tokenizer.ggml.add_space_prefix") ?? true
        let replace: [String: Any] = ["type": "Replace", "pattern": ["String": " "], "content": "▁"]
        json["normalizer"] = ["type": "Sequence", "normalizers": (prefix ? [["type": "Prepend", "prepend": "▁"]] : []) + [replace]]
        var decoders: [[String: Any]] = [["type": "Replace", "pattern": ["String": "▁"], "content": " "],
                                         ["type": "ByteFallback"], ["type": "Fuse"]]
        if prefix { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
        json["decoder"] = ["type": "Sequence", "decoders": decoders]
        json["pre_tokenizer"] = NSNull()
        json["model"] = ["type": "BPE", "unk_token": try piece("tokenizer.ggml.unknown_token_id").map { $0 as Any } ?? NSNull(),
                         "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                         "merges": sentencePieceMerges(vocab: vocab)]
    }

    /// Every split of each normal piece into two known pieces, pieces in id order and splits by
    /// the ids of their halves, then stably by the merged piece's score, highest first.
    func sentencePieceMerges(vocab: [String: Int]) -> [[String]] {
        var merges: [(left: String, right: String, score: Double)] = []
        for (id, p) in pieces.enumerated() where types[id] == .normal && vocab[p] == id {
            let scalars = Array(p.unicodeScalars)
            guard scalars.count > 1 else { continue }
            var local: [(String, String, Int, Int)] = []
            for cut in 1..<scalars.count {
                let l = String(String.UnicodeScalarView(scalars[..<cut])), r = String(String.UnicodeScalarView(scalars[cut...]))
                if let li = vocab[l], let ri = vocab[r] { local.append((l, r, li, ri)) }
            }
            local.sort { ($0.2, $0.3) < ($1.2, $1.3) }
            merges += local.map { ($0.0, $0.1, scores[id]) }
        }
        let ranked = merges.enumerated().sorted { a, b in
            a.element.score != b.element.score ? a.element.score > b.element.score : a.offset < b.offset
        }
        return ranked.map { [$0.element.left, $0.element.right] }
    }

    private func byteLevel(into json: inout [String: Any]) throws {
        let pre = try metadata.optionalString("tokenizer.ggml.pre") ?? "default"
        guard let regex = Self.splitRegexes[pre] else {
            throw GGUFError.invalidMetadata(file: file.url.path, key: "tokenizer.ggml.pre",
                                            reason: "pre-tokenizer '\(pre)' is not supported (\(Self.splitRegexes.keys.sorted().joined(separator: ", ")))")
        }
        let merges = try metadata.array("tokenizer.ggml.merges").enumerated().map { i, v -> [String] in
            guard let s = v.string, let space = s.firstIndex(of: " ") else {
                throw GGUFError.invalidMetadata(file: file.url.path, key: "tokenizer.ggml.merges", reason: "entry \(i) is not 'left right'")
            }
            return [String(s[..<space]), String(s[s.index(after: space)...])]
        }
        json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]]
        json["decoder"] = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true]
        json["model"] = ["type": "BPE", "fuse_unk": false, "byte_fallback": false, "ignore_merges": pre == "llama-bpe",
                         "merges": merges]
    }

    /// The split regexes of the pre-tokenizers llama.cpp names in `tokenizer.ggml.pre`.
    static let splitRegexes: [String: String] = [
        "default": gpt2Regex, "gpt-2": gpt2Regex,
        "llama-bpe": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ]
    static let gpt2Regex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
}
