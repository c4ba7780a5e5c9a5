import Foundation

/// The `pre_tokenizer` of `tokenizer.json`: cuts a normalized stretch of text into the words
/// that BPE sees one at a time.
///
/// `Metaspace` turns spaces into "▁" and prepends one "▁" unless the word already starts with
/// it — with `prepend_scheme` "first" only for the stretch at the very start of the input.
/// With `split` false the whole stretch is one BPE word.
indirect enum PreTokenizer: Decodable {
    case sequence([PreTokenizer])
    case metaspace(MetaspaceSpec)

    enum CodingKeys: String, CodingKey { case type, pretokenizers }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "Sequence": self = .sequence(try c.decode([PreTokenizer].self, forKey: .pretokenizers))
        case "Metaspace": self = .metaspace(try MetaspaceSpec(from: decoder))
        default: throw SchemaError(.unsupported(type), at: c.codingPath + [CodingKeys.type])
        }
    }

    /// - Parameter atStart: whether `words` come from the stretch at offset 0 of the input.
    func split(_ words: [[Unicode.Scalar]], atStart: Bool) -> [[Unicode.Scalar]] {
        switch self {
        case .sequence(let steps): return steps.reduce(words) { $1.split($0, atStart: atStart) }
        case .metaspace(let spec): return words.flatMap { spec.apply(to: $0, atStart: atStart) }
        }
    }
}

extension MetaspaceSpec {
    func apply(to word: [Unicode.Scalar], atStart: Bool) -> [[Unicode.Scalar]] {
        let mark = replacement.unicodeScalars.first!
        var text = word.map { $0 == " " ? mark : $0 }
        let prepends = prependScheme == .always || (prependScheme == .first && atStart)
        if prepends, !text.isEmpty, text.first != mark { text.insert(mark, at: 0) }
        guard split else { return [text] }
        return text.splitKeepingMark(mark)
    }
}

extension Array where Element == Unicode.Scalar {
    /// "a▁b▁▁c" → ["a", "▁b", "▁", "▁c"]: each mark starts a new word (merged with next).
    func splitKeepingMark(_ mark: Unicode.Scalar) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in self {
            if scalar == mark, !current.isEmpty {
                words.append(current)
                current = []
            }
            current.append(scalar)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
