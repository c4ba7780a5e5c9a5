import Foundation

/// The `normalizer` of `tokenizer.json`, applied to each stretch of text between added tokens.
///
/// LLaMA's legacy spelling is `Sequence[Prepend("▁"), Replace(" ", "▁")]`: every stretch,
/// not only the first, gets a leading "▁" — this is why "a <image> b" has a "▁" token after
/// `<image>` in that spelling and not in the Metaspace one.
indirect enum Normalizer: Decodable {
    case sequence([Normalizer])
    case prepend(String)
    case replace(pattern: String, content: String)
    case nfc, nfd, nfkc, nfkd, lowercase

    enum CodingKeys: String, CodingKey { case type, normalizers, prepend, pattern, content }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "Sequence": self = .sequence(try c.decode([Normalizer].self, forKey: .normalizers))
        case "Prepend": self = .prepend(try c.decode(String.self, forKey: .prepend))
        case "Replace":
            self = .replace(pattern: try c.decode(ReplacePattern.self, forKey: .pattern).string,
                            content: try c.decode(String.self, forKey: .content))
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        default: throw SchemaError(.unsupported(type), at: c.codingPath + [CodingKeys.type])
        }
    }

    /// Works on Unicode scalars, as the Rust library works on `char`s: never on graphemes.
    func normalize(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        switch self {
        case .sequence(let steps): return steps.reduce(text) { $1.normalize($0) }
        case .prepend(let prefix): return text.isEmpty ? text : Array(prefix.unicodeScalars) + text
        case .replace(let pattern, let content):
            return text.replacing(Array(pattern.unicodeScalars), with: Array(content.unicodeScalars))
        case .nfc: return Array(text.string.precomposedStringWithCanonicalMapping.unicodeScalars)
        case .nfd: return Array(text.string.decomposedStringWithCanonicalMapping.unicodeScalars)
        case .nfkc: return Array(text.string.precomposedStringWithCompatibilityMapping.unicodeScalars)
        case .nfkd: return Array(text.string.decomposedStringWithCompatibilityMapping.unicodeScalars)
        case .lowercase: return Array(text.string.lowercased().unicodeScalars)
        }
    }
}

extension Array where Element == Unicode.Scalar {
    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: self)
        return String(view)
    }

    /// Every non-overlapping occurrence of `pattern`, left to right, replaced by `content`.
    func replacing(_ pattern: [Unicode.Scalar], with content: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard !pattern.isEmpty, count >= pattern.count else { return self }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            if self[i] == pattern[0], i + pattern.count <= count, self[i..<(i + pattern.count)].elementsEqual(pattern) {
                out += content
                i += pattern.count
            } else {
                out.append(self[i])
                i += 1
            }
        }
        return out
    }
}
