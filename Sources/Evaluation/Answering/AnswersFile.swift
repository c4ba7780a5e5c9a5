import Checkpoint
import Foundation
import Logging

/// A JSONL file of records (answers, reviews, judge replies) that a run appends to as they
/// come (so a killed run loses at most the line being written) and a later run resumes from.
public struct ResumableJSONLines<Record: Codable> {
    public let url: URL

    public init(url: URL) { self.url = url }

    /// The records already written. A last line cut short by a kill is dropped (its work is
    /// done again); a bad line anywhere else is an error naming its line.
    public func load(logger: Logger? = nil) throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var answers: [Record] = []
        for (i, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                answers.append(try JSONDecoder().decode(Record.self, from: Data(line.utf8)))
            } catch {
                let isLast = lines[(i + 1)...].allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty }
                guard isLast else { throw EvaluationError.badLine(file: url.path, line: i + 1, reason: "\(error)") }
                logger?.warning("\(url.path):\(i + 1): dropping a cut-off last line (a killed run); its question is asked again")
            }
        }
        return answers
    }

    /// Replaces the file with `answers`, atomically.
    public func write(_ answers: [Record]) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8] = []
        for a in answers { bytes += Array(try encoder.encode(a)) + [UInt8(ascii: "\n")] }
        try AtomicFile.write(to: url) { try $0.write(bytes) }
    }

    /// Opens the file for appending (created if absent).
    public func appender() throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: url.path) { try write([]) }
        let handle = try FileHandle(forWritingTo: url)
        _ = try handle.seekToEnd()
        return handle
    }
}

/// The reference's answers file: one `EvaluationAnswer` per line.
public typealias AnswersFile = ResumableJSONLines<EvaluationAnswer>

/// Writes a whole result or submission file atomically: JSON (sorted keys) or text.
public enum ResultFile {
    public static func writeJSON<T: Encodable>(_ value: T, to url: URL, pretty: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        try writeData(try encoder.encode(value), to: url)
    }

    public static func writeText(_ text: String, to url: URL) throws { try writeData(Data(text.utf8), to: url) }

    public static func writeData(_ data: Data, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(to: url) { try $0.write(Array(data)) }
    }
}
