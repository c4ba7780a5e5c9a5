/// Reads GGUF's little-endian header fields from a byte buffer, never past its end: every
/// read checks the bytes left first and throws `GGUFError.truncated` naming what it read.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var offset = 0

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw GGUFError.truncated(file: file, what: what(), offset: bytes.count) }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }

    mutating func integer<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let raw = try take(MemoryLayout<T>.size, what())
        var v = T.zero
        withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: raw) }
        return T(littleEndian: v)
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try integer(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try integer(UInt64.self, what()) }

    /// A length that must fit in what is left of the file, when each item takes at least `itemBytes`.
    mutating func count(_ what: @autoclosure () -> String, itemBytes: Int) throws -> Int {
        let n = try u64(what())
        guard n <= UInt64(remaining / max(1, itemBytes)) else {
            throw GGUFError.implausible(file: file, what: what(), value: n)
        }
        return Int(n)
    }

    /// A GGUF string: u64 length, then UTF-8 bytes (invalid sequences become U+FFFD).
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try count(what() + " length", itemBytes: 1)
        return String(decoding: try take(n, what()), as: UTF8.self)
    }

    /// One metadata value of type `type`; arrays nest at most `depth` levels.
    mutating func value(type: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case 0: return .unsigned(UInt64(try integer(UInt8.self, key)))
        case 1: return .signed(Int64(try integer(Int8.self, key)))
        case 2: return .unsigned(UInt64(try integer(UInt16.self, key)))
        case 3: return .signed(Int64(try integer(Int16.self, key)))
        case 4: return .unsigned(UInt64(try u32(key)))
        case 5: return .signed(Int64(try integer(Int32.self, key)))
        case 6: return .float(Double(Float(bitPattern: try u32(key))))
        case 7:
            let b = try integer(UInt8.self, key)
            guard b <= 1 else { throw GGUFError.invalidMetadata(file: file, key: key, reason: "bool byte is \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string("metadata '\(key)'"))
        case 9: return try array(key: key, depth: depth)
        case 10: return .unsigned(try u64(key))
        case 11: return .signed(try integer(Int64.self, key))
        case 12: return .float(Double(bitPattern: try u64(key)))
        default: throw GGUFError.unknownValueType(file: file, key: key, type: type)
        }
    }

    private mutating func array(key: String, depth: Int) throws -> GGUFValue {
        guard depth < 4 else { throw GGUFError.implausible(file: file, what: "array nesting of '\(key)'", value: UInt64(depth)) }
        let elementType = try u32("array type of '\(key)'")
        // The smallest element is one byte; a string takes at least its 8-byte length.
        let n = try count("array length of '\(key)'", itemBytes: elementType == 8 ? 8 : 1)
        var items: [GGUFValue] = []
        items.reserveCapacity(n)
        for _ in 0..<n { items.append(try value(type: elementType, key: key, depth: depth + 1)) }
        return .array(items)
    }
}
