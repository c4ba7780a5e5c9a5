import Foundation

/// An append-only JSON Lines file: one record a line, each written whole and flushed to disk
/// before the next, so a run killed at any moment leaves every finished record intact. Opening
/// it again reads the ids already written and cuts off a last line left half-written.
///
/// ```swift
/// let out = try JSONLinesFile(url: URL(fileURLWithPath: "conversation.jsonl"))
/// if !out.ids.contains("42-conversation") { try out.append(record) }
/// ```
public final class JSONLinesFile {
    public let url: URL
    /// The `id` of every complete line, in file order.
    public private(set) var ids: [String] = []
    /// Bytes of a half-written last line removed on opening (0 when the file ended cleanly).
    public private(set) var repairedBytes = 0
    let handle: FileHandle
    let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    struct Identified: Decodable { var id: String }

    /// Opens `url` for appending, creating it (and its folder) if needed.
    public init(url: URL) throws {
        self.url = url
        let fm = FileManager.default
        if !fm.fileExists(atPath: url.path) {
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard fm.createFile(atPath: url.path, contents: nil) else {
                throw DataGenerationError.malformedFile(file: url.path, reason: "cannot create")
            }
        }
        do { handle = try FileHandle(forUpdating: url) } catch {
            throw DataGenerationError.malformedFile(file: url.path, reason: "cannot open for appending: \(error.localizedDescription)")
        }
        try readExisting()
    }

    deinit { try? handle.close() }

    /// Reads the ids of the complete lines and truncates a trailing partial line.
    private func readExisting() throws {
        let data = try handle.readToEnd() ?? Data()
        let complete = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        if complete < data.count {
            repairedBytes = data.count - complete
            try handle.truncate(atOffset: UInt64(complete))
        }
        var lineNumber = 0
        for line in data[..<complete].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            lineNumber += 1
            guard !line.isEmpty else { continue }
            do { ids.append(try JSONDecoder().decode(Identified.self, from: Data(line)).id) } catch {
                throw DataGenerationError.malformedFile(file: url.path, reason: "line \(lineNumber) is not a JSON record with an \"id\": \(error)")
            }
        }
        try handle.seekToEnd()
    }

    /// Writes `record` as one line and flushes it to disk.
    public func append<T: Encodable>(_ record: T, id: String) throws {
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        do {
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            throw DataGenerationError.malformedFile(file: url.path, reason: "cannot append: \(error.localizedDescription)")
        }
        ids.append(id)
    }

    /// Every complete line of `url` decoded as `T` (a half-written last line is not a record).
    public static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> [T] {
        guard let file = FileManager.default.contents(atPath: url.path) else {
            throw DataGenerationError.malformedFile(file: url.path, reason: "missing or unreadable")
        }
        let data = file[..<(file.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0)]
        var out: [T] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            do { out.append(try JSONDecoder().decode(T.self, from: Data(line))) } catch {
                throw DataGenerationError.malformedFile(file: url.path, reason: "line \(i + 1): \(error)")
            }
        }
        return out
    }
}
