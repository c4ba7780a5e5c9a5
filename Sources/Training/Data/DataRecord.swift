import Foundation

/// One record of LLaVA's training data ("LLaVA JSON"):
///
/// ```json
/// {"id": "000000033471", "image": "coco/train2017/000000033471.jpg",
///  "conversations": [{"from": "human", "value": "<image>\nWhat is on the table?"},
///                    {"from": "gpt", "value": "A red vase with flowers."}]}
/// ```
///
/// Text-only records have no `image`. Decoding validates what the reference would trip on
/// later: `conversations` present and non-empty, every `from` is `human` or `gpt`, and the
/// turns alternate starting with a human turn (one leading `gpt` turn is allowed, since the
/// reference drops it). A numeric `id` is read as its decimal text; a missing one becomes the
/// record's position in its file.
public struct DataRecord: Decodable, Equatable, Sendable {
    public struct Turn: Decodable, Equatable, Sendable {
        public enum Speaker: String, Decodable, Sendable { case human, gpt }
        public let from: Speaker
        public let value: String

        public init(from: Speaker, value: String) {
            self.from = from
            self.value = value
        }
    }

    public let id: String
    /// Path of the image relative to the image folder; nil for text-only records.
    public let image: String?
    public let conversations: [Turn]

    public init(id: String, image: String?, conversations: [Turn]) {
        self.id = id
        self.image = image
        self.conversations = conversations
    }

    public var hasImage: Bool { image != nil }

    /// Whitespace-separated words over all turns: the length the reference's
    /// `modality_lengths` sorts by (it never tokenises for the sampler).
    public var wordCount: Int {
        conversations.reduce(0) { $0 + PythonText.split($1.value).count }
    }

    private enum Keys: String, CodingKey { case id, image, conversations }
    private enum TurnKeys: String, CodingKey { case from, value }

    public init(from decoder: Decoder) throws {
        let index = decoder.codingPath.last?.intValue
        let c = try decoder.container(keyedBy: Keys.self)
        let id: String? = (try? c.decode(String.self, forKey: .id))
            ?? (try? c.decode(Int.self, forKey: .id)).map(String.init)
        func fail(_ field: String, _ problem: String) -> DataError {
            .invalidRecord(file: nil, index: index, id: id, field: field, problem: problem)
        }
        if c.contains(.id) && id == nil { throw fail("id", "expected a string or an integer") }
        self.id = id ?? index.map { "#\($0)" } ?? Self.unknownID

        if c.contains(.image) {
            guard let image = try? c.decode(String.self, forKey: .image) else {
                throw fail("image", "expected a string (a path relative to the image folder)")
            }
            self.image = image
        } else {
            image = nil
        }

        guard c.contains(.conversations) else { throw fail("conversations", "missing") }
        var list: UnkeyedDecodingContainer
        do { list = try c.nestedUnkeyedContainer(forKey: .conversations) } catch {
            throw fail("conversations", "expected an array of {\"from\", \"value\"} objects")
        }
        var turns: [Turn] = []
        while !list.isAtEnd {
            let k = turns.count
            guard let turn = try? list.nestedContainer(keyedBy: TurnKeys.self) else {
                throw fail("conversations[\(k)]", "expected an object with \"from\" and \"value\"")
            }
            guard let fromText = try? turn.decode(String.self, forKey: .from) else {
                throw fail("conversations[\(k)].from", "missing or not a string")
            }
            guard let from = Turn.Speaker(rawValue: fromText) else {
                throw fail("conversations[\(k)].from", "expected \"human\" or \"gpt\", found \"\(fromText)\"")
            }
            guard let value = try? turn.decode(String.self, forKey: .value) else {
                throw fail("conversations[\(k)].value", "missing or not a string")
            }
            turns.append(Turn(from: from, value: value))
        }
        if turns.isEmpty { throw fail("conversations", "empty") }
        if let k = Self.firstOutOfTurn(turns) {
            let expected: Turn.Speaker = turns[k].from == .human ? .gpt : .human
            throw fail("conversations[\(k)].from",
                       "turns must alternate human/gpt: expected \"\(expected.rawValue)\", found \"\(turns[k].from.rawValue)\"")
        }
        conversations = turns
    }

    static let unknownID = "#?"

    /// The first turn that breaks human/gpt alternation (after one optional leading gpt turn).
    static func firstOutOfTurn(_ turns: [Turn]) -> Int? {
        let start = turns.first?.from == .gpt ? 1 : 0
        for k in start..<turns.count where turns[k].from != ((k - start) % 2 == 0 ? .human : .gpt) {
            return k
        }
        return nil
    }
}

/// Reading LLaVA JSON (one array of records) or JSON lines (one record per line).
public enum DataLoading {
    /// The records of a `.json` file (a JSON array) or a `.jsonl` file (one object per line;
    /// blank lines skipped). The format is chosen by the first non-space character.
    ///
    /// ```swift
    /// let records = try DataLoading.records(contentsOf: URL(fileURLWithPath: "llava_instruct_150k.json"))
    /// ```
    public static func records(contentsOf url: URL) throws -> [DataRecord] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        let isArray = data.first { !PythonText.isSpace(Unicode.Scalar($0)) } == UInt8(ascii: "[")
        return isArray ? try decodeArray(data, path: url.path) : try decodeLines(data, path: url.path)
    }

    /// The records of `url`, each image checked to exist under `imageFolder` up front.
    public static func records(contentsOf url: URL, imageFolder: URL) throws -> [DataRecord] {
        let records = try records(contentsOf: url)
        try checkImages(records, in: imageFolder, file: url.path)
        return records
    }

    /// Throws `imageNotFound` for the first record whose image is not a file under `folder`.
    public static func checkImages(_ records: [DataRecord], in folder: URL, file: String? = nil) throws {
        for (i, r) in records.enumerated() {
            guard let image = r.image else { continue }
            let path = folder.appendingPathComponent(image).path
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) || isDirectory.boolValue {
                throw DataError.imageNotFound(file: file, index: i, id: r.id, path: path)
            }
        }
    }

    private static func decodeArray(_ data: Data, path: String) throws -> [DataRecord] {
        do {
            return try JSONDecoder().decode([DataRecord].self, from: data)
        } catch let error as DataError {
            throw error.located(file: path, index: nil)
        } catch {
            throw DataError.malformedFile(path: path, line: nil, reason: describe(error))
        }
    }

    private static func decodeLines(_ data: Data, path: String) throws -> [DataRecord] {
        var records: [DataRecord] = []
        let decoder = JSONDecoder()
        for (n, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ PythonText.isSpace(Unicode.Scalar($0)) }) { continue }
            do {
                var record = try decoder.decode(DataRecord.self, from: Data(line))
                if record.id == DataRecord.unknownID {     // no id: its position, as in a JSON array
                    record = DataRecord(id: "#\(records.count)", image: record.image, conversations: record.conversations)
                }
                records.append(record)
            } catch let error as DataError {
                throw error.located(file: path + ":\(n + 1)", index: records.count)
            } catch {
                throw DataError.malformedFile(path: path, line: n + 1, reason: describe(error))
            }
        }
        return records
    }

    private static func describe(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        switch e {
        case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
            let at = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return (at.isEmpty ? "" : "at \(at): ") + c.debugDescription
        @unknown default:
            return "\(e)"
        }
    }
}

/// Python's notion of whitespace (`str.isspace`, `str.strip()`, `str.split()`), which the
/// reference's text handling uses; Swift's `Character.isWhitespace` differs in corners.
enum PythonText {
    static func isSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `text.strip()`.
    static func strip(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }

    /// `text.split()`: runs of whitespace separate, no empty pieces.
    static func split(_ text: String) -> [Substring.UnicodeScalarView] {
        text.unicodeScalars.split(whereSeparator: isSpace)
    }

    /// `text.split(separator)`, matching code points exactly (no Unicode equivalence).
    static func split(_ text: String, on separator: String) -> [String] {
        let s = Array(text.unicodeScalars), sep = Array(separator.unicodeScalars)
        precondition(!sep.isEmpty, "empty separator")
        var pieces: [String] = [], start = 0, i = 0
        while i + sep.count <= s.count {
            if s[i] == sep[0] && Array(s[i..<i + sep.count]) == sep {
                pieces.append(scalarString(s[start..<i]))
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        pieces.append(scalarString(s[start...]))
        return pieces
    }

    static func contains(_ text: String, _ part: String) -> Bool { split(text, on: part).count > 1 }

    /// `text.replace(old, new)`.
    static func replace(_ text: String, _ old: String, with new: String) -> String {
        split(text, on: old).joined(separator: new)
    }

    private static func scalarString(_ s: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: s)
        return String(view)
    }
}
