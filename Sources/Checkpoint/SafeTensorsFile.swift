import Foundation
import Tensor

/// One `.safetensors` file, memory-mapped and validated when opened.
///
/// Opening checks the whole header (types, sizes, bounds, overlaps) so a corrupt
/// file fails at once with a ``CheckpointError`` naming the file and the tensor.
/// Tensors are views into the mapping, never copies — except the rare tensor whose
/// address is not a multiple of its element size, which is copied to aligned memory
/// so kernels may assume alignment.
///
/// ```swift
/// let file = try SafeTensorsFile(url: URL(fileURLWithPath: "model.safetensors"))
/// for name in file.tensorNames { print(name, file.info(name)!.shape) }
/// let w = try file.tensor("lm_head.weight")   // f16 view, no bytes read yet
/// ```
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    /// The whole file, mapped; every tensor returned views this storage.
    public let storage: Storage
    /// Offset of the data section from the start of the file (8 + header length).
    public let dataStart: Int
    private let entries: [String: TensorInfo]
    private let header: [String: String]

    public init(url: URL) throws {
        self.url = url
        storage = try mapFile(url)
        let bytes = UnsafeRawBufferPointer(start: storage.base, count: storage.byteCount)
        let parsed = try SafeTensorsHeader(bytes: bytes, file: url.path)
        dataStart = parsed.dataStart
        entries = parsed.entries
        header = parsed.metadata
    }

    /// Every tensor name, sorted.
    public var tensorNames: [String] { entries.keys.sorted() }

    /// The header's `__metadata__` (empty when absent).
    public var metadata: [String: String] { header }

    /// dtype, shape and data-section byte range of `name`, or nil.
    public func info(_ name: String) -> TensorInfo? { entries[name] }

    /// The tensor `name`: a view into the mapping (an aligned copy if its address is misaligned).
    public func tensor(_ name: String) throws -> Tensor {
        guard let info = entries[name] else {
            throw CheckpointError.missingTensor(tensor: name, location: url.path)
        }
        let offset = dataStart + info.byteRange.lowerBound
        let view = Tensor(dtype: info.dtype, shape: info.shape, storage: storage, offset: offset)
        if Int(bitPattern: view.rawPointer) % info.dtype.size == 0 { return view }
        // The header length is free, so 8 + N can leave the data section at any
        // address; copy this one tensor into 64-byte-aligned memory.
        let copy = Tensor(zeros: info.shape, dtype: info.dtype)
        copy.rawPointer.copyMemory(from: view.rawPointer, byteCount: view.byteCount)
        return copy
    }
}
