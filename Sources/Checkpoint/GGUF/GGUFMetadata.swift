/// Typed reads of a GGUF file's metadata; errors name the file and key.
public struct GGUFMetadata {
    public let file: GGUFFile

    public init(_ file: GGUFFile) { self.file = file }

    private func bad(_ key: String, _ expected: String, _ value: GGUFValue) -> GGUFError {
        .invalidMetadata(file: file.url.path, key: key, reason: "expected \(expected), found a \(value.kind)")
    }

    public func value(_ key: String) throws -> GGUFValue {
        guard let v = file.metadata[key] else { throw GGUFError.missing(file: file.url.path, what: "metadata '\(key)'") }
        return v
    }

    /// The value at `key` read by `read`; nil when absent, an error naming `expected` when `read`
    /// refuses the value.
    private func optional<T>(_ key: String, _ expected: String, _ read: (GGUFValue) -> T?) throws -> T? {
        guard let v = file.metadata[key] else { return nil }
        guard let x = read(v) else { throw bad(key, expected, v) }
        return x
    }

    /// `optional(key)`'s value, or an error that the key is missing.
    private func required<T>(_ key: String, _ optional: (String) throws -> T?) throws -> T {
        guard let x = try optional(key) else { throw GGUFError.missing(file: file.url.path, what: "metadata '\(key)'") }
        return x
    }

    public func optionalInt(_ key: String) throws -> Int? {
        try optional(key, "a non-negative integer") { v in v.int.flatMap { $0 >= 0 ? $0 : nil } }
    }

    public func int(_ key: String) throws -> Int { try required(key, optionalInt) }

    public func optionalDouble(_ key: String) throws -> Double? { try optional(key, "a number") { $0.double } }

    public func double(_ key: String) throws -> Double { try required(key, optionalDouble) }

    public func optionalString(_ key: String) throws -> String? { try optional(key, "a string") { $0.string } }

    public func string(_ key: String) throws -> String { try required(key, optionalString) }

    public func optionalBool(_ key: String) throws -> Bool? { try optional(key, "true or false") { $0.bool } }

    public func array(_ key: String) throws -> [GGUFValue] { try required(key, optionalArray) }

    public func optionalArray(_ key: String) throws -> [GGUFValue]? { try optional(key, "an array") { $0.array } }
}
