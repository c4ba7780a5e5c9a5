import Foundation
import Tensor

// Pillow-compatible resampling of 8-bit RGB images (`Image.resize(size, filter)`, no box, no
// reducing_gap). Pillow's algorithm, re-derived:
//   - separable: a horizontal pass (input rows → temp of width outW) and a vertical pass, in
//     an order that depends on the sizes (see `resize`); a pass whose size does not change is
//     skipped, and a horizontal-first pass only touches the input rows the vertical one reads;
//   - output pixel i is centred at (i + 0.5) * scale in input coordinates; when shrinking the
//     filter is stretched by the scale (antialiasing), so its support grows with it;
//   - weights are normalised to sum 1 in double, then rounded to fixed point with 22
//     fractional bits (32 - 8 bits of pixel - 2 bits of headroom for negative lobes);
//   - each pass accumulates in Int32 starting from 0.5 (rounding) and clips to 0…255.
// NEAREST is a different Pillow path (affine scaling with a running double coordinate).

/// The resampling filters, numbered as `PIL.Image.Resampling` and `preprocessor_config.json`'s
/// `resample` key.
public enum ResamplingFilter: Int, Sendable, Equatable, CaseIterable {
    case nearest = 0, lanczos = 1, bilinear = 2, bicubic = 3, box = 4, hamming = 5

    /// Half-width of the filter at scale 1.
    var support: Double {
        switch self {
        case .nearest, .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    func weight(_ t: Double) -> Double {
        let x = abs(t)
        switch self {
        case .nearest, .box:
            return t > -0.5 && t <= 0.5 ? 1 : 0
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .hamming:
            if x == 0 { return 1 }
            if x >= 1 { return 0 }
            let px = x * Double.pi
            // Pillow spells the window's constants as C floats: keep their float rounding.
            return sin(px) / px * (Double(Float(0.54)) + Double(Float(0.46)) * cos(px))
        case .bicubic:
            // Keys' cubic convolution with a = -0.5, in Pillow's evaluation order.
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        case .lanczos:
            return t >= -3 && t < 3 ? sinc(t) * sinc(t / 3) : 0
        }
    }

    private func sinc(_ t: Double) -> Double {
        if t == 0 { return 1 }
        let px = t * Double.pi
        return sin(px) / px
    }
}

/// Resizes like Pillow's `image.resize((width, height), Image.BICUBIC)`.
///
/// ```swift
/// let small = resizeBicubic(photo, width: 448, height: 336)
/// ```
public func resizeBicubic(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
    resize(image, width: width, height: height, filter: .bicubic)
}

/// Resizes like Pillow's `image.resize((width, height), filter)` for an RGB image.
public func resize(_ image: RGBImage, width: Int, height: Int, filter: ResamplingFilter) -> RGBImage {
    precondition(width > 0 && height > 0, "resize to \(width)x\(height)")
    if width == image.width && height == image.height { return image }
    if filter == .nearest { return resizeNearest(image, width: width, height: height) }
    let vertical = FixedPointWeights(inSize: image.height, outSize: height, filter: filter)
    let horizontal = FixedPointWeights(inSize: image.width, outSize: width, filter: filter)
    // Pillow 13 runs the vertical pass first when the height shrinks by more than twice
    // as many pixels as the width does (fewer rows for the horizontal pass). The order
    // changes the rounding of the uint8 intermediate, so it must be the same.
    let shrinkH = image.height - height, shrinkW = image.width - width
    if shrinkH > 0 && shrinkH > shrinkW * 2 {
        let rows = resampleColumns(image, weights: vertical)
        return width == image.width ? rows : resampleRows(rows, rows: 0..<height, weights: horizontal)
    }
    if width == image.width { return resampleColumns(image, weights: vertical) }
    // Rows [firstRow, lastRow) of the input are all the vertical pass reads.
    let firstRow = vertical.start[0]
    let lastRow = vertical.start[height - 1] + vertical.count[height - 1]
    let rows = resampleRows(image, rows: firstRow..<lastRow, weights: horizontal)
    if height == image.height { return rows }
    return resampleColumns(rows, weights: vertical.shifted(by: -firstRow))
}

// MARK: - Weights

/// Per output index: the first input index, how many inputs, and their Int32 weights
/// (22 fractional bits), padded to `taps` per output.
struct FixedPointWeights {
    static let precisionBits = 22
    var start: [Int]
    var count: [Int]
    var taps: Int
    var weights: [Int32]  // (outSize, taps)

    init(inSize: Int, outSize: Int, filter: ResamplingFilter) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        taps = Int(support.rounded(.up)) * 2 + 1
        start = [Int](repeating: 0, count: outSize)
        count = [Int](repeating: 0, count: outSize)
        weights = [Int32](repeating: 0, count: outSize * taps)
        let one = Double(1 << Self.precisionBits)
        let inverseScale = 1 / filterScale  // Pillow multiplies by the reciprocal: same rounding
        var w = [Double](repeating: 0, count: taps)
        for i in 0..<outSize {
            let center = (Double(i) + 0.5) * scale
            // C's (int) cast truncates toward zero; Int(_:) does the same.
            let lo = max(0, Int(center - support + 0.5))
            let n = min(inSize, Int(center + support + 0.5)) - lo
            var sum = 0.0
            for k in 0..<n {
                w[k] = filter.weight((Double(k + lo) - center + 0.5) * inverseScale)
                sum += w[k]
            }
            for k in 0..<n {
                let normalized = sum != 0 ? w[k] / sum : w[k]
                let fixed = normalized < 0 ? -0.5 + normalized * one : 0.5 + normalized * one
                weights[i * taps + k] = Int32(fixed)
            }
            start[i] = lo
            count[i] = n
        }
    }

    func shifted(by offset: Int) -> FixedPointWeights {
        var copy = self
        copy.start = start.map { $0 + offset }
        return copy
    }
}

@inline(__always)
private func clip8(_ accumulator: Int32) -> UInt8 {
    UInt8(clamping: accumulator >> Int32(FixedPointWeights.precisionBits))
}

// MARK: - Passes

/// Horizontal pass over the input rows `rows`: (rows.count, inW, 3) → (rows.count, outW, 3).
private func resampleRows(_ image: RGBImage, rows: Range<Int>, weights: FixedPointWeights) -> RGBImage {
    let outW = weights.start.count, inRow = image.width * 3, outRow = outW * 3
    var out = [UInt8](repeating: 0, count: rows.count * outRow)
    let half = Int32(1 << (FixedPointWeights.precisionBits - 1))
    image.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            weights.weights.withUnsafeBufferPointer { kk in
                let dst = dst
                parallelFor(rows.count, minChunk: max(1, 20_000 / max(1, outRow * weights.taps))) { range in
                    for r in range {
                        let line = src.baseAddress! + (rows.lowerBound + r) * inRow
                        let target = dst.baseAddress! + r * outRow
                        for x in 0..<outW {
                            let k = kk.baseAddress! + x * weights.taps
                            let p = line + weights.start[x] * 3
                            var s0 = half, s1 = half, s2 = half
                            for t in 0..<weights.count[x] {
                                let w = k[t]
                                s0 &+= Int32(p[3 * t]) &* w
                                s1 &+= Int32(p[3 * t + 1]) &* w
                                s2 &+= Int32(p[3 * t + 2]) &* w
                            }
                            target[3 * x] = clip8(s0); target[3 * x + 1] = clip8(s1); target[3 * x + 2] = clip8(s2)
                        }
                    }
                }
            }
        }
    }
    return RGBImage(width: outW, height: rows.count, pixels: out)
}

/// Vertical pass: (inH, W, 3) → (outH, W, 3); `weights.start` indexes the rows of `image`.
private func resampleColumns(_ image: RGBImage, weights: FixedPointWeights) -> RGBImage {
    let outH = weights.start.count, row = image.width * 3
    var out = [UInt8](repeating: 0, count: outH * row)
    let half = Int32(1 << (FixedPointWeights.precisionBits - 1))
    image.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            weights.weights.withUnsafeBufferPointer { kk in
                let dst = dst
                parallelFor(outH, minChunk: max(1, 20_000 / max(1, row * weights.taps))) { range in
                    var acc = [Int32](repeating: 0, count: row)
                    for y in range {
                        let k = kk.baseAddress! + y * weights.taps
                        let first = src.baseAddress! + weights.start[y] * row
                        for i in 0..<row { acc[i] = half }
                        // Row-at-a-time accumulation: contiguous, vectorisable inner loop.
                        for t in 0..<weights.count[y] {
                            let w = k[t], line = first + t * row
                            for i in 0..<row { acc[i] &+= Int32(line[i]) &* w }
                        }
                        let target = dst.baseAddress! + y * row
                        for i in 0..<row { target[i] = clip8(acc[i]) }
                    }
                }
            }
        }
    }
    return RGBImage(width: image.width, height: outH, pixels: out)
}

/// Pillow's NEAREST resize: affine scaling where the source coordinate starts at scale/2 and
/// is advanced by adding the scale (a running sum, whose rounding we keep).
private func resizeNearest(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
    func sourceIndices(inSize: Int, outSize: Int) -> [Int] {
        let step = Double(inSize) / Double(outSize)
        var position = step * 0.5
        var indices = [Int](repeating: 0, count: outSize)
        for i in 0..<outSize {
            indices[i] = min(max(position < 0 ? -1 : Int(position), 0), inSize - 1)
            position += step
        }
        return indices
    }
    let xs = sourceIndices(inSize: image.width, outSize: width)
    let ys = sourceIndices(inSize: image.height, outSize: height)
    var out = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        let srcRow = ys[y] * image.width * 3, dstRow = y * width * 3
        for x in 0..<width {
            let s = srcRow + xs[x] * 3, d = dstRow + x * 3
            out[d] = image.pixels[s]; out[d + 1] = image.pixels[s + 1]; out[d + 2] = image.pixels[s + 2]
        }
    }
    return RGBImage(width: width, height: height, pixels: out)
}
