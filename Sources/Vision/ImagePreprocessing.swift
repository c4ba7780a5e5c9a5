import Foundation
import Tensor

// The CLIP image processor, as transformers' PIL path runs it:
//   (optional, LLaVA "pad") expand2square with the mean colour
//   → resize (Pillow filter; shortest edge or exact size)  uint8 (H', W', 3)
//   → centre crop (zero padding when the image is smaller)  uint8 (cropH, cropW, 3)
//   → rescale: float32(float64(x) * factor)
//   → normalise: float32 (x - mean) / std                   float32 (3, cropH, cropW)

/// Model input: (C, H, W) float32, channel-major.
public struct PixelValues: Sendable {
    public let channels: Int, height: Int, width: Int
    /// (C, H, W).
    public var values: [Float]

    public init(channels: Int, height: Int, width: Int, values: [Float]) {
        precondition(values.count == channels * height * width, "pixel values \(values.count) != \(channels)x\(height)x\(width)")
        self.channels = channels
        self.height = height
        self.width = width
        self.values = values
    }
}

/// Turns an `RGBImage` into CLIP's `pixel_values`, matching `CLIPImageProcessor` (PIL backend).
///
/// ```swift
/// let processor = ImageProcessor(configuration: .clip336)
/// let image = try ImageDecoder.decode(contentsOf: url)
/// // LLaVA-1.5 ("pad"): square first, filled with the mean colour.
/// let square = expandToSquare(image, background: processor.configuration.meanColor)
/// let pixels = processor.preprocess(square)   // 3 x 336 x 336
/// ```
public struct ImageProcessor: Sendable {
    public let configuration: ImageProcessorConfiguration

    public init(configuration: ImageProcessorConfiguration) {
        self.configuration = configuration
    }

    /// The output (height, width) of the resize step for an input of this size.
    public func resizedSize(width: Int, height: Int) -> (height: Int, width: Int) {
        switch configuration.size {
        case .exact(let h, let w):
            return (h, w)
        case .shortestEdge(let n):
            // transformers' get_resize_output_image_size(default_to_square=False):
            // short side n, long side int(n * long / short), truncated.
            let (short, long) = width <= height ? (width, height) : (height, width)
            let newLong = Int(Double(n * long) / Double(short))
            return width <= height ? (newLong, n) : (n, newLong)
        }
    }

    /// The uint8 image after resize and centre crop (before rescale/normalise).
    public func resized(_ image: RGBImage) -> RGBImage {
        var out = image
        if configuration.doResize {
            let (h, w) = resizedSize(width: image.width, height: image.height)
            out = resize(out, width: w, height: h, filter: configuration.resample)
        }
        if configuration.doCenterCrop {
            out = centerCrop(out, height: configuration.cropHeight, width: configuration.cropWidth)
        }
        return out
    }

    public func preprocess(_ image: RGBImage) -> PixelValues {
        let img = resized(image)
        let c = configuration, plane = img.width * img.height
        // Same float steps as numpy in transformers: rescale in float64 then cast to float32;
        // normalise in float32 with float32 mean/std.
        let mean = c.imageMean.map { Float($0) }, std = c.imageStd.map { Float($0) }
        var values = [Float](repeating: 0, count: 3 * plane)
        img.pixels.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                for i in 0..<plane {
                    for ch in 0..<3 {
                        var v = c.doRescale ? Float(Double(src[3 * i + ch]) * c.rescaleFactor) : Float(src[3 * i + ch])
                        if c.doNormalize { v = (v - mean[ch]) / std[ch] }
                        dst[ch * plane + i] = v
                    }
                }
            }
        }
        return PixelValues(channels: 3, height: img.height, width: img.width, values: values)
    }
}

/// transformers' `center_crop`: the window starts at floor((size - crop) / 2) in each axis;
/// where it falls outside the image (crop larger than the image) the output is 0.
public func centerCrop(_ image: RGBImage, height: Int, width: Int) -> RGBImage {
    func floorHalf(_ v: Int) -> Int { v >= 0 ? v / 2 : -((-v + 1) / 2) }
    let top = floorHalf(image.height - height), left = floorHalf(image.width - width)
    if top == 0 && left == 0 && height == image.height && width == image.width { return image }
    var out = [UInt8](repeating: 0, count: height * width * 3)
    let x0 = max(0, -left), x1 = min(width, image.width - left)
    guard x0 < x1 else { return RGBImage(width: width, height: height, pixels: out) }
    for y in 0..<height {
        let sy = top + y
        guard sy >= 0 && sy < image.height else { continue }
        let src = (sy * image.width + left + x0) * 3, dst = (y * width + x0) * 3
        out[dst..<(dst + (x1 - x0) * 3)] = image.pixels[src..<(src + (x1 - x0) * 3)]
    }
    return RGBImage(width: width, height: height, pixels: out)
}

/// LLaVA's `expand2square`: pads to a max(W, H) square filled with `background`, the image
/// centred with offset (max - W) / 2 or (max - H) / 2 (floor). Square images are returned as is.
///
/// ```swift
/// let square = expandToSquare(image, background: (122, 116, 104))
/// ```
public func expandToSquare(_ image: RGBImage, background: (UInt8, UInt8, UInt8)) -> RGBImage {
    if image.width == image.height { return image }
    let side = max(image.width, image.height)
    var out = RGBImage(width: side, height: side, fill: background)
    let dx = (side - image.width) / 2, dy = (side - image.height) / 2
    let row = image.width * 3
    for y in 0..<image.height {
        let dst = ((y + dy) * side + dx) * 3
        out.pixels[dst..<(dst + row)] = image.pixels[(y * row)..<((y + 1) * row)]
    }
    return out
}
