import Foundation

/// Reads `model.vocab` of a `tokenizer.json` byte for byte.
///
/// Why not `JSONDecoder` or `JSONSerialization`: both build a `[String: …]` dictionary, and
/// Swift's `String ==` is canonical equivalence, so two pieces that differ only in Unicode
/// normalisation ("é" U+00E9 and "e" + U+0301, "Å" U+00C5 and the Ångström sign U+212B) become
/// one key and a token disappears. The Rust library keys its vocabulary by bytes, and real
/// SentencePiece vocabularies hold such pairs. So this scanner walks the JSON text itself,
/// skipping every other value, and returns the entries in file order with their exact scalars.
///
/// The rest of the file is still decoded (and validated) by `JSONDecoder`; this runs after it,
/// so the JSON is known to be well formed and only the vocabulary's own shape is checked here.
struct VocabularyJSON {
    private let bytes: [UInt8]
    private var index = 0
    private let file: String

    /// `(piece, id)` for every entry of `model.vocab`, in file order (duplicates kept).
    static func entries(in data: Data, file: String) throws -> [(piece: String, id: Int)] {
        var reader = VocabularyJSON(bytes: [UInt8](data), file: file)
        return try reader.readVocabulary()
    }

    private init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    private mutating func readVocabulary() throws -> [(piece: String, id: Int)] {
        guard try seekKey("model", key: ""), try seekKey("vocab", key: "model") else {
            throw TokenizerError.missingKey(file: file, key: "model.vocab")
        }
        var entries: [(piece: String, id: Int)] = []
        try forEachMember(key: "model.vocab") { reader, name in
            let piece = String(decoding: name, as: UTF8.self)
            entries.append((piece, try reader.readInteger(key: "model.vocab[\"\(piece)\"]")))
        }
        return entries
    }

    // MARK: - navigation

    /// Positions `index` at the value of member `name` of the object at `index`; false if absent.
    private mutating func seekKey(_ name: String, key: String) throws -> Bool {
        let wanted = Array(name.utf8)
        var found = false
        try forEachMember(key: key) { reader, member in
            if member == wanted {
                found = true
                return
            }
            try reader.skipValue()
        } stopWhen: { found }
        return found
    }

    /// Calls `body` with each member name of the object at `index`, the value next to read;
    /// `body` must consume the value. Stops early (before the value is consumed) when asked.
    private mutating func forEachMember(key: String, _ body: (inout VocabularyJSON, [UInt8]) throws -> Void,
                                        stopWhen stop: () -> Bool = { false }) throws {
        try expect(UInt8(ascii: "{"), key: key, what: "an object")
        skipSpace()
        if peek == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipSpace()
            let name = try readString(key: key)
            skipSpace()
            try expect(UInt8(ascii: ":"), key: key, what: "\":\"")
            skipSpace()
            try body(&self, name)
            if stop() { return }
            skipSpace()
            if peek == UInt8(ascii: ",") {
                index += 1
            } else {
                try expect(UInt8(ascii: "}"), key: key, what: "\",\" or \"}\"")
                return
            }
        }
    }

    private mutating func skipValue() throws {
        skipSpace()
        switch peek {
        case UInt8(ascii: "\""): _ = try readString(key: "")
        case UInt8(ascii: "{"): try forEachMember(key: "") { reader, _ in try reader.skipValue() }
        case UInt8(ascii: "["):
            index += 1
            skipSpace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                try skipValue()
                skipSpace()
                guard peek == UInt8(ascii: ",") else { break }
                index += 1
            }
            try expect(UInt8(ascii: "]"), key: "", what: "\"]\"")
        default:
            // Numbers and literals: everything up to the next delimiter.
            while let byte = peek, !Self.delimiters.contains(byte) { index += 1 }
        }
    }

    private static let delimiters: Set<UInt8> = Set(",]} \t\r\n".utf8)

    // MARK: - scalars

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    private mutating func expect(_ byte: UInt8, key: String, what: String) throws {
        guard peek == byte else { throw invalid(key: key, "expected \(what) at byte \(index)") }
        index += 1
    }

    private mutating func readInteger(key: String) throws -> Int {
        skipSpace()
        let start = index
        if peek == UInt8(ascii: "-") { index += 1 }
        while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Int(text), peek.map(Self.delimiters.contains) ?? true else {
            throw invalid(key: key, "expected an integer id")
        }
        return value
    }

    /// The UTF-8 bytes of the JSON string at `index`, escapes resolved. A lone surrogate
    /// `\uD800` becomes U+FFFD, as Rust's serde_json would refuse it anyway.
    private mutating func readString(key: String) throws -> [UInt8] {
        try expect(UInt8(ascii: "\""), key: key, what: "a string")
        var out: [UInt8] = []
        while let byte = peek {
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return out
            case UInt8(ascii: "\\"): try readEscape(into: &out, key: key)
            default: out.append(byte)
            }
        }
        throw invalid(key: key, "unterminated string")
    }

    private mutating func readEscape(into out: inout [UInt8], key: String) throws {
        guard let byte = peek else { throw invalid(key: key, "unterminated escape") }
        index += 1
        if let mapped = Self.simpleEscapes[byte] {
            out.append(mapped)
            return
        }
        guard byte == UInt8(ascii: "u") else { throw invalid(key: key, "bad escape \\\(Character(Unicode.Scalar(byte)))") }
        var code = try readHex4(key: key)
        if (0xD800..<0xDC00).contains(code), bytes[index...].starts(with: Array("\\u".utf8)) {
            let save = index
            index += 2
            let low = try readHex4(key: key)
            if (0xDC00..<0xE000).contains(low) {
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else {
                index = save
            }
        }
        out += Array(String(Unicode.Scalar(code) ?? "\u{FFFD}").utf8)
    }

    /// `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`.
    private static let simpleEscapes: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C,
                                                         0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]

    private mutating func readHex4(key: String) throws -> UInt32 {
        guard index + 4 <= bytes.count,
              let value = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16) else {
            throw invalid(key: key, "bad \\u escape")
        }
        index += 4
        return value
    }

    private func invalid(key: String, _ reason: String) -> TokenizerError {
        .invalidJSON(file: file, key: key, reason: reason)
    }
}
