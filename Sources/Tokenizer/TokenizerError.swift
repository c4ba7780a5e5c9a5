import Foundation

/// Why a tokenizer could not be loaded. Every case names the file and, where it applies, the
/// JSON key, so a message reads like "tokenizer.json: model.merges[12]: unknown token \"zz\"".
///
/// ```swift
/// do { _ = try Tokenizer(directory: url) }
/// catch let error as TokenizerError { print(error) }   // names the file and key
/// ```
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A required file does not exist (or cannot be read).
    case missingFile(path: String)
    /// The file is not JSON, or a value has the wrong JSON type.
    case invalidJSON(file: String, key: String, reason: String)
    /// A required key is absent.
    case missingKey(file: String, key: String)
    /// A component (model, normalizer, pre-tokenizer, decoder…) of a kind this package does not implement.
    case unsupported(file: String, key: String, value: String)
    /// A value is present but not acceptable (e.g. a negative id).
    case invalidValue(file: String, key: String, value: String, expected: String)
    /// A merge entry is neither `"a b"` nor `["a", "b"]`.
    case badMergeEntry(file: String, index: Int, entry: String)
    /// A merge names a token (or produces one) that is not in the vocabulary.
    case unknownTokenInMerge(file: String, index: Int, token: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "tokenizer file not found: \(path)"
        case .invalidJSON(let file, let key, let reason):
            return "\(file): \(key.isEmpty ? "" : key + ": ")invalid JSON: \(reason)"
        case .missingKey(let file, let key):
            return "\(file): missing key \(key)"
        case .unsupported(let file, let key, let value):
            return "\(file): \(key): unsupported \"\(value)\""
        case .invalidValue(let file, let key, let value, let expected):
            return "\(file): \(key): expected \(expected), found \(value)"
        case .badMergeEntry(let file, let index, let entry):
            return "\(file): model.merges[\(index)]: expected \"a b\" or [\"a\", \"b\"], found \(entry)"
        case .unknownTokenInMerge(let file, let index, let token):
            return "\(file): model.merges[\(index)]: token \"\(token)\" is not in model.vocab"
        }
    }
}

/// Thrown while decoding JSON shapes, before the file name is known; `Tokenizer` adds the file.
struct SchemaError: Error {
    enum Kind { case unsupported(String), invalidValue(String, expected: String) }
    let key: String
    let kind: Kind

    init(_ kind: Kind, at path: [CodingKey]) {
        self.kind = kind
        self.key = codingPathString(path)
    }

    func named(_ file: String) -> TokenizerError {
        switch kind {
        case .unsupported(let value): return .unsupported(file: file, key: key, value: value)
        case .invalidValue(let value, let expected):
            return .invalidValue(file: file, key: key, value: value, expected: expected)
        }
    }
}

/// `model.merges[3]`-style spelling of a decoding path.
func codingPathString(_ path: [CodingKey]) -> String {
    path.reduce(into: "") { out, key in
        if let index = key.intValue { out += "[\(index)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
    }
}

extension TokenizerError {
    /// Maps Foundation's decoding errors and our schema errors to a typed error naming `file`.
    static func wrapping(_ error: Error, file: String) -> TokenizerError {
        if let error = error as? TokenizerError { return error }
        if let error = error as? SchemaError { return error.named(file) }
        guard let error = error as? DecodingError else {
            return .invalidJSON(file: file, key: "", reason: String(describing: error))
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .missingKey(file: file, key: codingPathString(context.codingPath + [key]))
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return .invalidJSON(file: file, key: codingPathString(context.codingPath), reason: context.debugDescription)
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { " (\($0.localizedDescription))" } ?? ""
            return .invalidJSON(file: file, key: codingPathString(context.codingPath),
                                reason: context.debugDescription + underlying)
        @unknown default:
            return .invalidJSON(file: file, key: "", reason: String(describing: error))
        }
    }
}
