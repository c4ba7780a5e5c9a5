import Foundation

/// GPT-2's byte-level alphabet, as HF `tokenizers`' `ByteLevel` pre-tokenizer and decoder use it.
///
/// Every UTF-8 byte is shown as one printable character so that BPE can work on bytes while
/// the vocabulary stays text: "!"…"~", "¡"…"¬" and "®"…"ÿ" stand for themselves, the other 68
/// bytes (controls, space, 0x7F–0xA0, 0xAD) take U+0100, U+0101, … in byte order — so a space
/// is "Ġ" (U+0120) and "\n" is "Ċ" (U+010A).
enum ByteLevelAlphabet {
    /// byte → its character.
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var extra: UInt32 = 0
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(256 + extra)!
                extra += 1
            }
        }
        return table
    }()

    /// character value → byte, for values below 0x144 (the highest character); -1 elsewhere.
    static let bytes: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in characters.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// "é" → "Ã©": each UTF-8 byte of `word` as its alphabet character.
    static func encode(_ word: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(word.count)
        for scalar in word {
            if scalar.isASCII {
                out.append(characters[Int(scalar.value)])
            } else {
                for byte in String(scalar).utf8 { out.append(characters[Int(byte)]) }
            }
        }
        return out
    }

    /// The `ByteLevel` decoder: each token's characters back to bytes — or, for a token with a
    /// character outside the alphabet (an added token such as "my word"), its own UTF-8 — then
    /// all bytes as one string, each maximal invalid subsequence as one U+FFFD (Rust's
    /// `from_utf8_lossy`, which Swift's repairing decoder matches).
    static func decode(_ tokens: [String]) -> String {
        var bytes: [UInt8] = []
        for token in tokens {
            let start = bytes.count
            for scalar in token.unicodeScalars {
                let value = Int(scalar.value)
                guard value < Self.bytes.count, Self.bytes[value] >= 0 else {
                    bytes.removeSubrange(start...)
                    bytes += Array(token.utf8)
                    break
                }
                bytes.append(UInt8(Self.bytes[value]))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The `ByteLevel` pre-tokenizer: optionally a leading space, optionally GPT-2's regex split,
/// then every word spelled in the byte alphabet. `trim_offsets` only moves offsets.
struct ByteLevelSpec: Decodable {
    var addPrefixSpace: Bool
    var useRegex: Bool

    enum CodingKeys: String, CodingKey { case addPrefixSpace = "add_prefix_space", useRegex = "use_regex" }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        addPrefixSpace = try c.decodeIfPresent(Bool.self, forKey: .addPrefixSpace) ?? true
        useRegex = try c.decodeIfPresent(Bool.self, forKey: .useRegex) ?? true
    }

    func apply(to word: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var word = word
        // Every word that reaches this step gets the space, not only the first of the input.
        if addPrefixSpace, word.first != " " { word.insert(" ", at: 0) }
        let words = useRegex ? SplitPattern.gpt2.split(word, behavior: .isolated, invert: false) : [word]
        return words.map(ByteLevelAlphabet.encode)
    }
}
