import Checkpoint
import Foundation
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

    func configJSON() throws -> Data {
        var config: [String: Any] = [
            "add_bos_token": try metadata.optionalBool("tokenizer.ggml.add_bos_token") ?? (kind == "llama"),
            "add_eos_token": try metadata.optionalBool("tokenizer.ggml.add_eos_token") ?? false,
        ]
        config["bos_token"] = try piece("tokenizer.ggml.bos_token_id")
        config["eos_token"] = try piece("tokenizer.ggml.eos_token_id")
        config["unk_token"] = try piece("tokenizer.ggml.unknown_token_id")
        config["pad_token"] = try piece("tokenizer.ggml.padding_token_id")
        return try JSONSerialization.data(withJSONObject: config)
    }

    func tokenizerJSON() throws -> Data {
        var vocab: [String: Int] = [:]
        for (i, p) in pieces.enumerated() where vocab[p] == nil { vocab[p] = i }
        let added: [[String: Any]] = pieces.indices.compactMap { i in
            let t = types[i]
            guard t == .control || t == .unknown || t == .userDefined else { return nil }
            return ["id": i, "content": pieces[i], "single_word": false, "lstrip": false, "rstrip": false,
                    "normalized": false, "special": t != .userDefined]
        }
        var json: [String: Any] = ["version": "1.0", "added_tokens": added]
        if kind == "llama" {
            try sentencePiece(into: &json, vocab: vocab)
        } else {
            try byteLevel(into: &json, vocab: vocab)
        }
        return try JSONSerialization.data(withJSONObject: json)
    }

    private func sentencePiece(into json: inout [String: Any], vocab: [String: Int]) throws {
        let prefix = try metadata.optionalBool("tokenizer.ggml.add_space_prefix") ?? true
        let replace: [String: Any] = ["type": "Replace", "pattern": ["String": " "], "content": "▁"]
        json["normalizer"] = ["type": "Sequence", "normalizers": (prefix ? [["type": "Prepend", "prepend": "▁"]] : []) + [replace]]
        var decoders: [[String: Any]] = [["type": "Replace", "pattern": ["String": "▁"], "content": " "],
                                         ["type": "ByteFallback"], ["type": "Fuse"]]
        if prefix { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
        json["decoder"] = ["type": "Sequence", "decoders": decoders]
        json["model"] = ["type": "BPE", "unk_token": try piece("tokenizer.ggml.unknown_token_id") as Any,
                         "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                         "vocab": vocab, "merges": sentencePieceMerges(vocab: vocab)]
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

    private func byteLevel(into json: inout [String: Any], vocab: [String: Int]) throws {
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
                         "vocab": vocab, "merges": merges]
    }

    /// The split regexes of the pre-tokenizers llama.cpp names in `tokenizer.ggml.pre`.
    static let splitRegexes: [String: String] = [
        "default": gpt2Regex, "gpt-2": gpt2Regex,
        "llama-bpe": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ]
    static let gpt2Regex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
}
