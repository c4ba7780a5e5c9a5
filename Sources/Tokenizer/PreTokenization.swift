import Foundation

/// The `pre_tokenizer` of `tokenizer.json`: cuts a normalized stretch of text into the words
/// that BPE sees one at a time.
///
/// `Metaspace` turns spaces into "▁" and prepends one "▁" unless the word already starts with
/// it — with `prepend_scheme` "first" only for the stretch at the very start of the input.
/// With `split` false the whole stretch is one BPE word.
///
/// Byte-level models (GPT-2, LLaMA-3, Qwen2) use `ByteLevel`, often after a `Split` by regex,
/// sometimes with `Digits`; see `ByteLevelSpec` and `SplitPattern`.
indirect enum PreTokenizer: Decodable {
    case sequence([PreTokenizer])
    case metaspace(MetaspaceSpec)
    case byteLevel(ByteLevelSpec)
    case split(SplitPattern, SplitPattern.Behavior, invert: Bool)
    /// `individual`: each digit alone; else runs of digits.
    case digits(individual: Bool)

    enum CodingKeys: String, CodingKey {
        case type, pretokenizers, pattern, behavior, invert, individualDigits = "individual_digits"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "Sequence": self = .sequence(try c.decode([PreTokenizer].self, forKey: .pretokenizers))
        case "Metaspace": self = .metaspace(try MetaspaceSpec(from: decoder))
        case "ByteLevel": self = .byteLevel(try ByteLevelSpec(from: decoder))
        case "Split":
            let pattern = try c.decode(SplitPatternSpec.self, forKey: .pattern).pattern
            self = .split(pattern, try c.decode(SplitPattern.Behavior.self, forKey: .behavior),
                          invert: try c.decodeIfPresent(Bool.self, forKey: .invert) ?? false)
        case "Digits": self = .digits(individual: try c.decodeIfPresent(Bool.self, forKey: .individualDigits) ?? false)
        default: throw SchemaError(.unsupported(type), at: c.codingPath + [CodingKeys.type])
        }
    }

    /// - Parameter atStart: whether `words` come from the stretch at offset 0 of the input.
    func split(_ words: [[Unicode.Scalar]], atStart: Bool) -> [[Unicode.Scalar]] {
        switch self {
        case .sequence(let steps): return steps.reduce(words) { $1.split($0, atStart: atStart) }
        case .metaspace(let spec): return words.flatMap { spec.apply(to: $0, atStart: atStart) }
        case .byteLevel(let spec): return words.flatMap(spec.apply)
        case .split(let pattern, let behavior, let invert):
            return words.flatMap { pattern.split($0, behavior: behavior, invert: invert) }
        case .digits(let individual):
            return words.flatMap { SplitPattern.numbers.split($0, behavior: individual ? .isolated : .contiguous, invert: false) }
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

/// `{"String": " "}` or `{"Regex": "…"}`; a regex must be one `SplitPattern` knows.
struct SplitPatternSpec: Decodable {
    var pattern: SplitPattern

    enum CodingKeys: String, CodingKey { case string = "String", regex = "Regex" }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let regex = try c.decodeIfPresent(String.self, forKey: .regex) {
            guard let known = SplitPattern.knownRegexes[regex] else {
                throw SchemaError(.unsupported("Regex \(regex)"), at: c.codingPath + [CodingKeys.regex])
            }
            pattern = known
        } else {
            pattern = .string(Array(try c.decode(String.self, forKey: .string).unicodeScalars))
        }
    }
}
