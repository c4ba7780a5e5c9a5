import CKernels

/// Widens `count` elements of `dtype` at `src` into f32 at `dst`.
public func convertToFloat(_ src: UnsafeRawPointer, dtype: DType, count: Int,
                           into dst: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
    case .f16:
        lk_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, count)
    case .bf16:
        lk_bf16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, count)
    case .i64:
        let p = src.assumingMemoryBound(to: Int64.self)
        for i in 0..<count { dst[i] = Float(p[i]) }
    case .i32:
        let p = src.assumingMemoryBound(to: Int32.self)
        for i in 0..<count { dst[i] = Float(p[i]) }
    case .u8:
        let p = src.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count { dst[i] = Float(p[i]) }
    case .q8_0:
        dequantizeGGML(type: 8, source: src, into: dst, count: count)
    case .q4_0:
        dequantizeGGML(type: 2, source: src, into: dst, count: count)
    case .q4_K:
        dequantizeGGML(type: 12, source: src, into: dst, count: count)
    case .q6_K:
        dequantizeGGML(type: 14, source: src, into: dst, count: count)
    case .q4_0x8, .q4_Kx8, .q8_0x8:
        preconditionFailure("\(dtype) values depend on their row length: widen the tensor (toF32) or put it in row order first")
    }
}

/// Narrows `count` f32 values into `dtype` at `dst` (round-to-nearest-even for f16/bf16).
public func convertFromFloat(_ src: UnsafePointer<Float>, count: Int,
                             to dtype: DType, into dst: UnsafeMutableRawPointer) {
    switch dtype {
    case .f32:
        dst.assumingMemoryBound(to: Float.self).update(from: src, count: count)
    case .f16:
        lk_f32_to_f16(src, dst.assumingMemoryBound(to: UInt16.self), count)
    case .bf16:
        lk_f32_to_bf16(src, dst.assumingMemoryBound(to: UInt16.self), count)
    case .i64:
        let p = dst.assumingMemoryBound(to: Int64.self)
        for i in 0..<count { p[i] = Int64(src[i]) }
    case .i32:
        let p = dst.assumingMemoryBound(to: Int32.self)
        for i in 0..<count { p[i] = Int32(src[i]) }
    case .u8:
        let p = dst.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count { p[i] = UInt8(max(0, min(255, src[i].rounded()))) }
    case .q8_0:
        lk_quantize_q8_0(src, dst, count)
    case .q4_0:
        lk_quantize_q4_0(src, dst, count)
    case .q4_K:
        lk_quantize_q4_k(src, dst, count)
    case .q6_K:
        lk_quantize_q6_k(src, dst, count)
    case .q4_0x8, .q4_Kx8, .q8_0x8:
        preconditionFailure("\(dtype) blocks depend on their row length: convert the tensor to \(dtype.rowOrderType), then interleave it")
    }
}

extension Tensor {
    /// This tensor's values narrowed to `dtype` in a new owned tensor.
    public func converted(to target: DType) -> Tensor {
        if target == dtype { return self }
        if target.interleavedRows > 1 { return converted(to: target.rowOrderType).interleavedForDecode(force: true) }
        let f = dtype == .f32 ? self : toF32()
        let out = Tensor(zeros: shape, dtype: target)
        convertFromFloat(f.floats, count: count, to: target, into: out.rawPointer)
        return out
    }
}

/// Expands `count` values stored as ggml type `ggmlType` (the number GGUF writes: 0 F32, 1 F16,
/// 2 Q4_0, 3 Q4_1, 6 Q5_0, 7 Q5_1, 8 Q8_0, 12 Q4_K, 13 Q5_K, 14 Q6_K, 30 BF16) into f32.
/// `count` must be a whole number of the type's blocks; the caller has checked the source size.
public func dequantizeGGML(type ggmlType: UInt32, source: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>, count: Int) {
    let status = lk_dequantize_ggml(ggmlType, source, out, count)
    precondition(status == 0, "ggml type \(ggmlType) has no dequantisation")
}
