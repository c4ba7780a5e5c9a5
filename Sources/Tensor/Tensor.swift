/// A dense, row-major n-dimensional view of bytes in a `Storage`.
///
/// A tensor is a value: shape, element type and where its bytes are. Copying
/// one copies the view, never the bytes. Float32 tensors are the compute type;
/// f16/bf16 tensors appear as memory-mapped weights.
public struct Tensor: @unchecked Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let storage: Storage
    /// Byte offset of element 0 inside `storage`.
    public let offset: Int

    public init(dtype: DType, shape: [Int], storage: Storage, offset: Int = 0) {
        precondition(offset >= 0 && offset + dtype.byteCount(elements: shape.reduce(1, *)) <= storage.byteCount,
                     "tensor view \(shape) \(dtype) at \(offset) exceeds storage of \(storage.byteCount) bytes")
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.offset = offset
    }

    /// A new zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .f32) {
        let n = shape.reduce(1, *)
        self.init(dtype: dtype, shape: shape, storage: Storage(byteCount: dtype.byteCount(elements: n)))
    }

    /// A new f32 tensor holding `values`.
    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { src in
            floats.update(from: src.baseAddress!, count: values.count)
        }
    }

    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { dtype.byteCount(elements: count) }
    public var rank: Int { shape.count }

    /// Raw address of element 0.
    public var rawPointer: UnsafeMutableRawPointer { storage.base + offset }

    /// Element 0 as `Float` (f32 tensors only).
    public var floats: UnsafeMutablePointer<Float> {
        precondition(dtype == .f32, "floats of a \(dtype) tensor")
        return rawPointer.assumingMemoryBound(to: Float.self)
    }

    /// Rows of the last dimension: a [a, b, c] tensor has a*b rows of c.
    public var rowCount: Int { shape.count <= 1 ? 1 : count / shape[shape.count - 1] }
    public var rowLength: Int { shape.last ?? 1 }

    /// Same bytes, another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(dtype: dtype, shape: newShape, storage: storage, offset: offset)
    }

    /// Rows `range` of the first dimension, without copying.
    public func slice(rows range: Range<Int>) -> Tensor {
        precondition(!shape.isEmpty && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let unit = dtype.interleavedRows
        precondition(range.lowerBound % unit == 0 && range.upperBound % unit == 0,
                     "rows of a \(dtype) tensor come in groups of \(unit), got \(range)")
        let rowBytes = dtype.byteCount(elements: count / shape[0])
        var s = shape
        s[0] = range.count
        return Tensor(dtype: dtype, shape: s, storage: storage, offset: offset + range.lowerBound * rowBytes)
    }

    /// The values widened to f32, in a new array (tests, small tensors).
    public func toFloatArray() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dst in widen(into: dst.baseAddress!) }
        return out
    }

    /// A new owned f32 copy of this tensor.
    public func toF32() -> Tensor {
        let t = Tensor(zeros: shape)
        widen(into: t.floats)
        return t
    }
}
