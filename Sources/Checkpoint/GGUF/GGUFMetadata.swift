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

    public func optionalInt(_ key: String) throws -> Int? {
        guard let v = file.metadata[key] else { return nil }
        guard let n = v.int, n >= 0 else { throw bad(key, "a non-negative integer", v) }
        return n
    }

    public func int(_ key: String) throws -> Int {
        guard let n = try optionalInt(key) else { throw GGUFError.missing(file: file.url.path, what: "metadata '\(key)'") }
        return n
    }

    public func optionalDouble(_ key: String) throws -> Double? {
        guard let v = file.metadata[key] else { return nil }
        guard let x = v.double else { throw bad(key, "a number", v) }
        return x
    }

    public func double(_ key: String) throws -> Double {
        let v = try value(key)
        guard let x = v.double else { throw bad(key, "a number", v) }
        return x
    }

    public func optionalString(_ key: String) throws -> String? {
        guard let v = file.metadata[key] else { return nil }
        guard let s = v.string else { throw bad(key, "a string", v) }
        return s
    }

    public func string(_ key: String) throws -> String {
        guard let s = try optionalString(key) else { throw GGUFError.missing(file: file.url.path, what: "metadata '\(key)'") }
        return s
    }

    public func optionalBool(_ key: String) throws -> Bool? {
        guard let v = file.metadata[key] else { return nil }
        guard let b = v.bool else { throw bad(key, "true or false", v) }
        return b
    }

    public func array(_ key: String) throws -> [GGUFValue] {
        let v = try value(key)
        guard let a = v.array else { throw bad(key, "an array", v) }
        return a
    }

    public func optionalArray(_ key: String) throws -> [GGUFValue]? {
        guard file.metadata[key] != nil else { return nil }
        return try array(key)
    }
}
