import Foundation
import JSONText
import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes safetensors files byte-for-byte in the layout of the reference (Rust) writer.
///
/// The header is compact JSON — `__metadata__` first (keys sorted), then one
/// `{"dtype":…,"shape":[…],"data_offsets":[start,end]}` per tensor in the order given — padded
/// with spaces so the data section starts at a multiple of 8. Tensors are packed back to back.
/// Give larger element types first (f32 before f16 before u8) to keep every tensor aligned,
/// as the reference does by sorting; a misaligned tensor still reads correctly, as a copy.
///
/// ```swift
/// try SafeTensorsWriter.write([("proj.weight", w), ("proj.bias", b)],
///                             metadata: ["format": "pt"], to: URL(fileURLWithPath: "mm_projector.safetensors"))
/// ```
public enum SafeTensorsWriter {
    /// Writes atomically: temp file in the same directory, fsync, rename; header 8-byte aligned
    /// (padded with spaces as the reference does), tensors in the order given, metadata optional.
    /// With `storing`, every float or block tensor is stored as that float type, converted a
    /// slice at a time while it is written (quantised blocks are expanded exactly first).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], storing dtype: DType? = nil,
                             metadata: [String: String]?, to url: URL) throws {
        precondition(dtype?.isFloat ?? true, "safetensors stores f32, f16 or bf16 weights")
        let stored = tensors.map { name, t in (name, dtype: dtype.flatMap { t.dtype.isWeight ? $0 : nil } ?? t.dtype, tensor: t) }
        let header = try headerBytes(stored, metadata: metadata, file: url.path)
        try AtomicFile.write(to: url) { sink in
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try sink.write($0.baseAddress!, count: 8) }
            try sink.write(header)
            for t in stored { try sink.write(t.tensor, as: t.dtype) }
        }
    }

    /// Writes `tensors` in the reference writer's order — larger dtypes first (I64, F32, I32,
    /// BF16, F16, U8), then by name — so every tensor is aligned and the bytes equal those of
    /// `safetensors.torch.save_file` for the same dictionary.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String]?, to url: URL) throws {
        let ordered = tensors.sorted { a, b in
            let (ra, rb) = (referenceRank(a.value.dtype), referenceRank(b.value.dtype))
            return ra != rb ? ra > rb : a.key < b.key
        }
        try write(ordered.map { (name: $0.key, tensor: $0.value) }, metadata: metadata, to: url)
    }

    /// Position in the reference's `Dtype` enum, which it sorts by, descending.
    private static func referenceRank(_ dtype: DType) -> Int {
        switch dtype {
        case .u8: return 0
        case .f16: return 1
        case .bf16: return 2
        case .i32: return 3
        case .f32: return 4
        case .i64: return 5
        case .q8_0, .q4_0, .q4_K, .q6_K, .q4_0x8, .q4_Kx8, .q8_0x8: return -1   // refused by headerBytes
        }
    }

    /// The JSON header for tensors stored as `dtype` each, space-padded so that 8 + its length
    /// is a multiple of 8.
    static func headerBytes(_ tensors: [(name: String, dtype: DType, tensor: Tensor)], metadata: [String: String]?,
                            file: String) throws -> [UInt8] {
        var parts: [String] = []
        if let metadata {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var seen = Set<String>()
        var offset = 0
        for (name, dtype, t) in tensors {
            if name.isEmpty || name == "__metadata__" {
                throw CheckpointError.invalidTensorName(file: file, tensor: name, reason: "reserved or empty name")
            }
            guard seen.insert(name).inserted else {
                throw CheckpointError.invalidTensorName(file: file, tensor: name, reason: "name given twice")
            }
            guard !dtype.isQuantized else {
                throw CheckpointError.invalidTensorName(file: file, tensor: name, reason: "\(dtype) blocks have no safetensors dtype")
            }
            let shape = t.shape.map(String.init).joined(separator: ",")
            let bytes = dtype.byteCount(elements: t.count)
            parts.append("\(jsonString(name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(shape)],"
                + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var bytes = Array("{\(parts.joined(separator: ","))}".utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        return bytes
    }
}
