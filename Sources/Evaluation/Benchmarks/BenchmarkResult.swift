import Foundation

/// What each benchmark command writes to `<results-dir>/<benchmark>.json` and `llava eval
/// report` reads back: named numbers (percentages unless the name says otherwise), the one the
/// papers report as `headline`, and counts.
public struct BenchmarkResult: Codable, Sendable, Equatable {
    public var benchmark: String
    public var model: String
    public var headline: String
    public var metrics: [String: Double]
    public var counts: [String: Int]

    public init(benchmark: String, model: String, headline: String, metrics: [String: Double], counts: [String: Int] = [:]) {
        self.benchmark = benchmark
        self.model = model
        self.headline = headline
        self.metrics = metrics
        self.counts = counts
    }

    public var headlineValue: Double? { metrics[headline] }

    /// Writes `<dir>/<benchmark>.json` atomically.
    public func write(toFolder dir: URL) throws {
        try ResultFile.writeJSON(self, to: dir.appendingPathComponent("\(benchmark).json"))
    }
}

/// Reading helpers for the benchmarks' original files: every error names the file, the record
/// and the field.
enum BenchmarkFile {
    static func data(_ url: URL) throws -> Data {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EvaluationError.missingFile(url.path) }
        return data
    }

    static func json(_ url: URL) throws -> Any {
        do { return try JSONSerialization.jsonObject(with: try data(url), options: [.fragmentsAllowed]) } catch let e as EvaluationError {
            throw e
        } catch {
            throw EvaluationError.badLine(file: url.path, line: 1, reason: "not valid JSON: \(error.localizedDescription)")
        }
    }

    /// The objects of a JSONL file, each with its line number.
    static func jsonLines(_ url: URL) throws -> [(line: Int, object: [String: Any])] {
        let text = String(decoding: try data(url), as: UTF8.self)
        var out: [(Int, [String: Any])] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw EvaluationError.badLine(file: url.path, line: i + 1, reason: "not a JSON object")
            }
            out.append((i + 1, object))
        }
        return out
    }

    /// A record's field of type `T`; ints are read from integral JSON numbers.
    static func field<T>(_ object: [String: Any], _ key: String, in file: URL, at location: String, as: T.Type = T.self) throws -> T {
        guard let value = object[key], !(value is NSNull) else {
            throw EvaluationError.badField(file: file.path, location: location, field: key, reason: "missing")
        }
        if T.self == String.self, !(value is String) {
            if let i = value as? Int { return "\(i)" as! T }
            if let d = value as? Double { return "\(d)" as! T }
        }
        if T.self == Int.self, !(value is Int), let d = value as? Double, d == d.rounded() { return Int(d) as! T }
        guard let typed = value as? T else {
            throw EvaluationError.badField(file: file.path, location: location, field: key, reason: "expected \(T.self), found \(value)")
        }
        return typed
    }

    /// A question id as the answers file keys it (ints and strings alike).
    static func id(_ object: [String: Any], _ key: String, in file: URL, at location: String) throws -> String {
        try field(object, key, in: file, at: location, as: String.self)
    }
}

func percent(_ part: Int, _ whole: Int) -> Double { whole == 0 ? 0 : 100 * Double(part) / Double(whole) }
