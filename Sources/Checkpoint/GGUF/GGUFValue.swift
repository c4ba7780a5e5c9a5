/// A GGUF metadata value. Integers keep their sign apart so a reader can insist on a range.
public indirect enum GGUFValue: Sendable, Equatable {
    case unsigned(UInt64)
    case signed(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// The value as a non-negative Int, if it is an integer that fits.
    public var int: Int? {
        switch self {
        case .unsigned(let u): return u <= UInt64(Int.max) ? Int(u) : nil
        case .signed(let s): return Int(s)
        default: return nil
        }
    }

    /// The value as a Double, for any number.
    public var double: Double? {
        switch self {
        case .float(let d): return d
        case .unsigned(let u): return Double(u)
        case .signed(let s): return Double(s)
        default: return nil
        }
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var array: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// What kind of value this is, for error messages.
    public var kind: String {
        switch self {
        case .unsigned: return "unsigned integer"
        case .signed: return "integer"
        case .float: return "float"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        }
    }
}
