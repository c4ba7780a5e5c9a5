import Foundation

/// Why training data could not be read or turned into a sample. Record-level cases name the
/// file (when known), the record's position and id, and the field, so a message reads like
/// `data.json: record 3 (id "000123"): conversations[2].from: expected "human" or "gpt", found "system"`.
///
/// ```swift
/// do { _ = try DataLoading.records(contentsOf: url) }
/// catch let error as DataError { print(error) }   // names the file, record and field
/// ```
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be read.
    case unreadableFile(path: String, reason: String)
    /// The file (or one JSONL line, `line` counted from 1) is not JSON of the expected shape.
    case malformedFile(path: String, line: Int?, reason: String)
    /// A record's field is missing or wrong. `index` is the record's position in its file.
    case invalidRecord(file: String?, index: Int?, id: String?, field: String, problem: String)
    /// A record names an image that is not in the image folder.
    case imageNotFound(file: String?, index: Int?, id: String, path: String)
    /// The record cannot be used with this template (e.g. `plain` needs an image and exactly
    /// one human turn and one answer).
    case unsupportedRecord(id: String, template: String, reason: String)
    /// The masked rounds add up to a different length than the whole tokenised conversation:
    /// the reference prints "WARNING: tokenization mismatch" and silently zeroes the sample's
    /// labels; we refuse the sample instead.
    case tokenizationMismatch(id: String, rendered: Int, tokenized: Int)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read training data: \(reason)"
        case .malformedFile(let path, let line, let reason):
            return "\(path)\(line.map { ":\($0)" } ?? ""): malformed training data: \(reason)"
        case .invalidRecord(let file, let index, let id, let field, let problem):
            return Self.where_(file, index, id) + "\(field): \(problem)"
        case .imageNotFound(let file, let index, let id, let path):
            return Self.where_(file, index, id) + "image: file not found: \(path)"
        case .unsupportedRecord(let id, let template, let reason):
            return "record id \"\(id)\": cannot use with the \(template) template: \(reason)"
        case .tokenizationMismatch(let id, let rendered, let tokenized):
            return "record id \"\(id)\": tokenization mismatch: the rendered rounds cover \(rendered) tokens "
                + "but the whole conversation tokenises to \(tokenized) (the reference would zero this sample's labels)"
        }
    }

    private static func where_(_ file: String?, _ index: Int?, _ id: String?) -> String {
        var s = file.map { $0 + ": " } ?? ""
        s += "record" + (index.map { " \($0)" } ?? "")
        if let id { s += " (id \"\(id)\")" }
        return s + ": "
    }

    /// The same error with the file and record position filled in where they were unknown.
    func located(file: String, index: Int?) -> DataError {
        switch self {
        case .invalidRecord(let f, let i, let id, let field, let problem):
            return .invalidRecord(file: f ?? file, index: i ?? index, id: id, field: field, problem: problem)
        case .imageNotFound(let f, let i, let id, let path):
            return .imageNotFound(file: f ?? file, index: i ?? index, id: id, path: path)
        default:
            return self
        }
    }
}
