import CImageCodecs
import Checkpoint
import Foundation
import Vision

/// Errors from writing images.
public enum ImageEncodingError: Error, CustomStringConvertible, Equatable {
    case encodingFailed(file: String, reason: String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case .encodingFailed(let file, let reason): return "\(file): PNG encoding failed: \(reason)"
        case .writeFailed(let file, let reason): return "\(file): could not write: \(reason)"
        }
    }
}

/// PNG encoding of `RGBImage`s through libpng (see `png_write.c`).
///
/// ```swift
/// try ImageEncoder.writePNG(RGBImage(width: 2, height: 2, fill: (255, 0, 0)), to: URL(fileURLWithPath: "red.png"))
/// ```
public enum ImageEncoder {
    /// The PNG bytes of `image` (8-bit RGB). Equal pixels give equal bytes.
    public static func pngData(_ image: RGBImage, source: String = "<memory>") throws -> Data {
        var buffer = lic_buffer()
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            lic_png_encode_rgb8(pixels.baseAddress, Int32(image.width), Int32(image.height), &buffer)
        }
        defer { lic_buffer_free(&buffer) }
        guard status == LIC_OK else {
            let reason = withUnsafeBytes(of: buffer.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw ImageEncodingError.encodingFailed(file: source, reason: reason)
        }
        return Data(bytes: buffer.data, count: buffer.size)
    }

    /// Writes `image` as a PNG atomically (`AtomicFile`, without fsync: a data set holds
    /// thousands of images), so a reader never sees half an image.
    public static func writePNG(_ image: RGBImage, to url: URL) throws {
        let data = try pngData(image, source: url.path)
        do {
            try AtomicFile.write(data, to: url, durable: false)
        } catch let CheckpointError.io(_, operation, code) {
            throw ImageEncodingError.writeFailed(file: url.path, reason: "\(operation): \(String(cString: strerror(code)))")
        }
    }
}
