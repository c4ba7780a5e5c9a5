import Foundation

/// The `decoder` of `tokenizer.json`: turns pieces back into text.
///
/// Each step maps a list of strings to a list of strings, exactly as `tokenizers`' `decode_chain`
/// does, because some steps look at token boundaries: `Metaspace` drops every "▁" of the
/// *first* piece only, `Strip` trims each piece, `ByteFallback` turns each run of `<0xNN>`
/// pieces into its UTF-8 text — or, if the run is not valid UTF-8, one U+FFFD per byte.
indirect enum TokenDecoder: Decodable {
    case sequence([TokenDecoder])
    case replace(pattern: String, content: String)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case metaspace(MetaspaceSpec)
    /// GPT-2's byte alphabet back to bytes, then UTF-8 (see `ByteLevelAlphabet.decode`).
    case byteLevel

    enum CodingKeys: String, CodingKey { case type, decoders, pattern, content, start, stop }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "Sequence": self = .sequence(try c.decode([TokenDecoder].self, forKey: .decoders))
        case "Replace":
            self = .replace(pattern: try c.decode(ReplacePattern.self, forKey: .pattern).string,
                            content: try c.decode(String.self, forKey: .content))
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Strip":
            let content = try c.decode(String.self, forKey: .content)
            guard content.unicodeScalars.count == 1 else {
                throw SchemaError(.invalidValue("\"\(content)\"", expected: "one character"),
                                  at: c.codingPath + [CodingKeys.content])
            }
            self = .strip(content: content.unicodeScalars.first!, start: try c.decode(Int.self, forKey: .start),
                          stop: try c.decode(Int.self, forKey: .stop))
        case "Metaspace": self = .metaspace(try MetaspaceSpec(from: decoder))
        case "ByteLevel": self = .byteLevel
        default: throw SchemaError(.unsupported(type), at: c.codingPath + [CodingKeys.type])
        }
    }

    /// Whether a `ByteFallback` step is in the chain (so `<0xNN>` pieces are bytes).
    var hasByteFallback: Bool {
        switch self {
        case .byteFallback: return true
        case .sequence(let steps): return steps.contains { $0.hasByteFallback }
        default: return false
        }
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let steps): return steps.reduce(tokens) { $1.decodeChain($0) }
        case .replace(let pattern, let content):
            let (from, to) = (Array(pattern.unicodeScalars), Array(content.unicodeScalars))
            return tokens.map { Array($0.unicodeScalars).replacing(from, with: to).string }
        case .byteFallback: return Self.fallBackBytes(tokens)
        case .fuse: return [tokens.joined()]
        case .strip(let content, let start, let stop): return tokens.map { Self.strip($0, content, start, stop) }
        case .metaspace(let spec): return tokens.enumerated().map { spec.decode($1, isFirst: $0 == 0) }
        case .byteLevel: return [ByteLevelAlphabet.decode(tokens)]
        }
    }

    private static func fallBackBytes(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var bytes: [UInt8] = []
        func flush() {
            guard !bytes.isEmpty else { return }
            if let text = String(validating: bytes, as: UTF8.self) {
                out.append(text)
            } else {
                out += Array(repeating: "\u{FFFD}", count: bytes.count)
            }
            bytes.removeAll()
        }
        for token in tokens {
            if let byte = fallbackByte(token) {
                bytes.append(byte)
            } else {
                flush()
                out.append(token)
            }
        }
        flush()
        return out
    }

    private static func strip(_ token: String, _ content: Unicode.Scalar, _ start: Int, _ stop: Int) -> String {
        let scalars = Array(token.unicodeScalars)
        var lower = 0, upper = scalars.count
        while lower < min(start, scalars.count), scalars[lower] == content { lower += 1 }
        while scalars.count - upper < stop, upper > lower, scalars[upper - 1] == content { upper -= 1 }
        return Array(scalars[lower..<upper]).string
    }
}

extension MetaspaceSpec {
    /// "▁" → " ", except that the first piece loses its "▁"s unless the scheme is "never".
    func decode(_ token: String, isFirst: Bool) -> String {
        let mark = replacement.unicodeScalars.first!
        let dropsMark = isFirst && prependScheme != .never
        var view = String.UnicodeScalarView()
        for scalar in token.unicodeScalars {
            if scalar != mark { view.append(scalar) } else if !dropsMark { view.append(" ") }
        }
        return String(view)
    }
}

/// The byte of a `<0xNN>` piece, or nil for any other piece.
func fallbackByte(_ token: String) -> UInt8? {
    let utf8 = Array(token.utf8)
    guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"),
          utf8[2] == UInt8(ascii: "x"), utf8[5] == UInt8(ascii: ">") else { return nil }
    return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
}
