import Foundation

/// A tab-separated table as pandas' `read_table` reads it: the first row names the columns;
/// a field that starts with `"` is quoted (tabs, newlines and doubled quotes inside).
public struct TSVTable {
    public let columns: [String]
    /// Rows as column → value, each with its 1-based line number in the file.
    public let rows: [(line: Int, values: [String: String])]

    public init(url: URL) throws {
        let records = Self.parse(String(decoding: try BenchmarkFile.data(url), as: UTF8.self))
        guard let header = records.first else { throw EvaluationError.badLine(file: url.path, line: 1, reason: "empty table") }
        columns = header.fields
        var rows: [(Int, [String: String])] = []
        for r in records.dropFirst() where !(r.fields.count == 1 && r.fields[0].isEmpty) {
            guard r.fields.count == columns.count else {
                throw EvaluationError.badLine(file: url.path, line: r.line, reason: "\(r.fields.count) fields, the header has \(columns.count)")
            }
            rows.append((r.line, Dictionary(uniqueKeysWithValues: zip(columns, r.fields))))
        }
        self.rows = rows
    }

    static func parse(_ text: String) -> [(line: Int, fields: [String])] {
        var records: [(Int, [String])] = []
        var fields: [String] = [], field = "", quoted = false, atFieldStart = true
        var line = 1, recordLine = 1
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.unicodeScalars.append(chars.removeFirst()) } else { quoted = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where atFieldStart: quoted = true; atFieldStart = false
            case "\t": fields.append(field); field = ""; atFieldStart = true
            case "\r" where chars.first == "\n": continue
            case "\n":
                fields.append(field); records.append((recordLine, fields))
                fields = []; field = ""; atFieldStart = true
                line += 1; recordLine = line
            default: field.unicodeScalars.append(c); atFieldStart = false
            }
        }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); records.append((recordLine, fields)) }
        return records
    }
}
