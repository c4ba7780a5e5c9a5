import Foundation
import Tensor

/// Writes GGUF version 3 files as llama.cpp reads them: metadata in the order given, tensor
/// infos, then each tensor's data at a 32-byte aligned offset, converted on the way out
/// (F32, F16, BF16, Q8_0, Q4_0) a block of rows at a time. The file is written atomically.
///
/// ```swift
/// var writer = GGUFWriter()
/// writer.add("general.architecture", .string("llama"))
/// writer.add(tensor: "token_embd.weight", embed, as: .q8_0)
/// try writer.write(to: URL(fileURLWithPath: "model-q8_0.gguf"))
/// ```
public struct GGUFWriter {
    public static let alignment = 32
    private var metadata: [(key: String, value: GGUFValue)] = []
    private var tensors: [(name: String, tensor: Tensor, type: GGMLType)] = []

    public init() {}

    public mutating func add(_ key: String, _ value: GGUFValue) { metadata.append((key, value)) }

    /// Adds a tensor (any float or block dtype) to be stored as `type`.
    public mutating func add(tensor name: String, _ tensor: Tensor, as type: GGMLType) {
        tensors.append((name, tensor, type))
    }

    public func write(to url: URL) throws {
        for t in tensors {
            guard let row = t.tensor.shape.last, row % t.type.blockSize == 0, t.type.byteCount(elements: t.tensor.count) != nil,
                  Self.writable.contains(t.type) else {
                throw GGUFError.invalidShape(file: url.path, tensor: t.name, shape: t.tensor.shape, type: t.type)
            }
        }
        try AtomicFile.write(to: url) { sink in
            try sink.write(header())
            for t in tensors {
                try sink.write([UInt8](repeating: 0, count: Self.padding(sink.written)))
                try sink.write(t.tensor, as: DType(ggml: t.type))
            }
        }
    }

    static let writable: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_K, .q6_K]

    static func padding(_ offset: Int) -> Int { (alignment - offset % alignment) % alignment }

    private func header() -> [UInt8] {
        var b = GGUFByteBuffer()
        b.bytes += Array("GGUF".utf8)
        b.u32(3)
        b.u64(UInt64(tensors.count))
        b.u64(UInt64(metadata.count))
        for (key, value) in metadata {
            b.string(key)
            b.value(value)
        }
        var offset = 0
        for t in tensors {
            b.string(t.name)
            b.u32(UInt32(t.tensor.shape.count))
            for d in t.tensor.shape.reversed() { b.u64(UInt64(d)) }
            b.u32(t.type.rawValue)
            offset += Self.padding(offset)
            b.u64(UInt64(offset))
            offset += t.type.byteCount(elements: t.tensor.count)!
        }
        b.bytes += [UInt8](repeating: 0, count: Self.padding(b.bytes.count))
        return b.bytes
    }
}

extension DType {
    /// The tensor type that holds a GGUF type's bytes as they are (writable types only).
    public init(ggml type: GGMLType) {
        switch type {
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        case .q8_0: self = .q8_0
        case .q4_0: self = .q4_0
        case .q4_K: self = .q4_K
        case .q6_K: self = .q6_K
        default: preconditionFailure("\(type) is not written")
        }
    }
}

/// Little-endian GGUF fields appended to a byte array.
struct GGUFByteBuffer {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes += Array(s.utf8) }

    /// Type code then value. Unsigned values are written as u32 when they fit (as llama.cpp's
    /// writer does for counts and ids), signed as i32, floats as f32; arrays take the type of
    /// their first element.
    mutating func value(_ v: GGUFValue) {
        u32(Self.typeCode(v))
        payload(v)
    }

    static func typeCode(_ v: GGUFValue) -> UInt32 {
        switch v {
        case .unsigned(let u): return u <= UInt64(UInt32.max) ? 4 : 10
        case .signed: return 5
        case .float: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        }
    }

    private mutating func payload(_ v: GGUFValue) {
        switch v {
        case .unsigned(let u): if u <= UInt64(UInt32.max) { u32(UInt32(u)) } else { u64(u) }
        case .signed(let s): u32(UInt32(bitPattern: Int32(truncatingIfNeeded: s)))
        case .float(let d): u32(Float(d).bitPattern)
        case .bool(let b): bytes.append(b ? 1 : 0)
        case .string(let s): string(s)
        case .array(let items):
            let code = items.first.map(Self.typeCode) ?? 4
            u32(code)
            u64(UInt64(items.count))
            for item in items { payload(item) }
        }
    }
}
