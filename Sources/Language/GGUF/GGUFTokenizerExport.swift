import Checkpoint
import Foundation

/// `tokenizer.ggml.*` metadata for a Hugging Face `tokenizer.json` (and `tokenizer_config.json`),
/// as llama.cpp reads it back:
/// - a SentencePiece-style BPE (byte fallback, "▁" for spaces) becomes `llama`, each piece scored
///   by the rank of the first merge that makes it, so llama.cpp's highest-score-first merging
///   follows the same order;
/// - a byte-level BPE becomes `gpt2` with its merges, the pre-tokenizer named when its split
///   regex is one llama.cpp knows.
public enum GGUFTokenizerExport {
    public static func add(directory: URL, to writer: inout GGUFWriter, vocabularySize: Int) throws {
        let file = directory.appendingPathComponent("tokenizer.json")
        guard let data = FileManager.default.contents(atPath: file.path),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let model = json["model"] as? [String: Any], let vocab = model["vocab"] as? [String: Int] else {
            throw GGUFError.missing(file: file.path, what: "BPE model with a vocab")
        }
        let merges = (model["merges"] as? [Any] ?? []).compactMap(mergePair)
        let added = json["added_tokens"] as? [[String: Any]] ?? []
        let size = max(vocabularySize, (vocab.values.max() ?? 0) + 1, (added.compactMap { $0["id"] as? Int }.max() ?? 0) + 1)
        var pieces = (0..<size).map { "<unused\($0)>" }, types = [Int](repeating: 5, count: size)
        for (piece, id) in vocab where id < size {
            pieces[id] = piece
            types[id] = piece.hasPrefix("<0x") && piece.count == 6 ? 6 : 1
        }
        let unk = model["unk_token"] as? String
        for t in added {
            guard let id = t["id"] as? Int, id < size, let content = t["content"] as? String else { continue }
            pieces[id] = content
            types[id] = content == unk ? 2 : ((t["special"] as? Bool) == true ? 3 : 4)
        }
        writer.add("tokenizer.ggml.tokens", .array(pieces.map { .string($0) }))
        writer.add("tokenizer.ggml.token_type", .array(types.map { .signed(Int64($0)) }))
        if model["byte_fallback"] as? Bool == true {
            writer.add("tokenizer.ggml.model", .string("llama"))
            writer.add("tokenizer.ggml.scores", .array(scores(pieces: pieces, merges: merges).map { .float($0) }))
        } else {
            writer.add("tokenizer.ggml.model", .string("gpt2"))
            writer.add("tokenizer.ggml.pre", .string(try preTokenizerName(json, file: file.path)))
            writer.add("tokenizer.ggml.merges", .array(merges.map { .string($0.0 + " " + $0.1) }))
        }
        try addSpecialTokens(directory: directory, vocab: vocab, added: added, to: &writer)
    }

    /// "a b" or ["a", "b"].
    static func mergePair(_ m: Any) -> (String, String)? {
        if let pair = m as? [String], pair.count == 2 { return (pair[0], pair[1]) }
        guard let s = m as? String, let space = s.firstIndex(of: " ") else { return nil }
        return (String(s[..<space]), String(s[s.index(after: space)...]))
    }

    /// -(rank of the first merge producing the piece); pieces no merge makes rank after all merges.
    static func scores(pieces: [String], merges: [(String, String)]) -> [Double] {
        var rank: [String: Int] = [:]
        for (i, m) in merges.enumerated() where rank[m.0 + m.1] == nil { rank[m.0 + m.1] = i }
        return pieces.enumerated().map { id, p in -Double(rank[p] ?? (merges.count + id)) }
    }

    static func preTokenizerName(_ json: [String: Any], file: String) throws -> String {
        let text = String(decoding: (try? JSONSerialization.data(withJSONObject: json["pre_tokenizer"] ?? NSNull())) ?? Data(), as: UTF8.self)
        for (name, regex) in GGUFTokenizerSpec.splitRegexes.sorted(by: { $0.key < $1.key }) {
            let escaped = String(decoding: try JSONSerialization.data(withJSONObject: [regex]), as: UTF8.self).dropFirst().dropLast()
            if text.contains(escaped) { return name }
        }
        if text.contains("\"ByteLevel\"") && text.contains("\"use_regex\":true") { return "gpt-2" }
        throw GGUFError.invalidMetadata(file: file, key: "pre_tokenizer",
                                        reason: "its split is none llama.cpp names (\(GGUFTokenizerSpec.splitRegexes.keys.sorted().joined(separator: ", ")))")
    }

    private static func addSpecialTokens(directory: URL, vocab: [String: Int], added: [[String: Any]], to writer: inout GGUFWriter) throws {
        let config = directory.appendingPathComponent("tokenizer_config.json")
        let json = FileManager.default.contents(atPath: config.path).flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any] ?? [:]
        var ids = vocab
        for t in added { if let c = t["content"] as? String, let id = t["id"] as? Int { ids[c] = id } }
        func name(_ key: String) -> String? {
            (json[key] as? String) ?? ((json[key] as? [String: Any])?["content"] as? String)
        }
        for (key, gguf) in [("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"), ("unk_token", "unknown_token_id"),
                            ("pad_token", "padding_token_id")] {
            if let n = name(key), let id = ids[n] { writer.add("tokenizer.ggml.\(gguf)", .unsigned(UInt64(id))) }
        }
        if let b = json["add_bos_token"] as? Bool { writer.add("tokenizer.ggml.add_bos_token", .bool(b)) }
        if let e = json["add_eos_token"] as? Bool { writer.add("tokenizer.ggml.add_eos_token", .bool(e)) }
    }
}
