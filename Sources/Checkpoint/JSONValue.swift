import Foundation

/// A parsed JSON value that keeps integers apart from other numbers, so the
/// safetensors header can insist on integer shapes and offsets.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        // Order matters: Bool before Int (so `true` is not 1), Int before Double.
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    /// Parses UTF-8 bytes; the error is a one-line reason for a message.
    static func parse(_ bytes: Data) -> Result<JSONValue, ParseFailure> {
        guard String(data: bytes, encoding: .utf8) != nil else { return .failure(.init("not valid UTF-8")) }
        do {
            return .success(try JSONDecoder().decode(JSONValue.self, from: bytes))
        } catch {
            // The decoder's own message ("The given data was not valid JSON.") adds nothing;
            // an underlying error may carry the position.
            if case let DecodingError.dataCorrupted(context) = error, let underlying = context.underlyingError {
                return .failure(.init("not valid JSON: \("\(underlying)".prefix(200))"))
            }
            return .failure(.init("not valid JSON"))
        }
    }

    struct ParseFailure: Error { let reason: String; init(_ r: String) { reason = r } }

    /// The JSON type's name, for "expected X, found Y" messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// An array of integers, or nil.
    var intArray: [Int]? {
        guard case let .array(items) = self else { return nil }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case let .int(i) = item else { return nil }
            out.append(i)
        }
        return out
    }

    /// A scalar rendered as text (index `metadata` holds numbers such as `total_size`).
    var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .number(let d): return String(d)
        case .bool(let b): return String(b)
        default: return nil
        }
    }
}
