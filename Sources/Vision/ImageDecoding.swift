import CImageCodecs
import Foundation

/// Limits applied while decoding.
public struct ImageDecodingOptions: Sendable {
    /// Largest width × height accepted. Checked against the header before any pixel buffer is
    /// allocated, so a file declaring 100000×100000 costs nothing.
    public var maxPixels: Int = 64_000_000

    public init(maxPixels: Int = 64_000_000) {
        self.maxPixels = maxPixels
    }
}

/// Decodes PNG and JPEG files to 8-bit RGB with the same pixels as Pillow's
/// `Image.open(path).convert("RGB")`.
///
/// The format comes from the leading bytes, never the file name. Pillow's conversion rules,
/// which this reproduces:
/// - gray (L, 1-bit, 2/4-bit scaled to 0…255) → R = G = B;
/// - alpha (LA, RGBA, palette tRNS) is dropped, not composited;
/// - palette → its RGB entries;
/// - 16-bit RGB / RGBA / gray+alpha → the high byte of each sample (Pillow reads them 8-bit);
/// - 16-bit gray opens as "I;16" and converts by clamping: min(value, 255);
/// - JPEG: islow DCT, fancy upsampling (libjpeg's defaults, which Pillow uses).
///
/// ```swift
/// let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "cat.jpg"))
/// print(image.width, image.height, image.pixels.count)  // W, H, W*H*3
/// ```
public enum ImageDecoder {
    public static func decode(contentsOf url: URL, options: ImageDecodingOptions = .init()) throws -> RGBImage {
        let file = url.path
        guard FileManager.default.fileExists(atPath: file) else { throw ImageError.fileNotFound(file: file) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImageError.unreadable(file: file, reason: error.localizedDescription)
        }
        return try decode(data: data, source: file, options: options)
    }

    /// Decodes in-memory bytes; `source` names them in errors (a path or a URL).
    public static func decode(data: Data, source: String, options: ImageDecodingOptions = .init()) throws -> RGBImage {
        guard !data.isEmpty else { throw ImageError.emptyFile(file: source) }
        let format = ImageFormat(sniffing: data)
        let codec: Codec
        switch format {
        case .png: codec = .png
        case .jpeg: codec = .jpeg
        case .other(let found): throw ImageError.unsupportedFormat(file: source, found: found)
        }
        return try data.withUnsafeBytes { raw -> RGBImage in
            let bytes = raw.bindMemory(to: UInt8.self)
            return try codec.decode(bytes, source: source, options: options)
        }
    }
}

// MARK: - Codec calls

private enum Codec {
    case png, jpeg

    var name: String { self == .png ? "PNG" : "JPEG" }

    /// Header → size check → one allocation → decode → Pillow's RGB conversion.
    func decode(_ bytes: UnsafeBufferPointer<UInt8>, source: String, options: ImageDecodingOptions) throws -> RGBImage {
        var info = lic_info()
        let base = bytes.baseAddress!
        let headerStatus = self == .png
            ? lic_png_read_header(base, bytes.count, &info)
            : lic_jpeg_read_header(base, bytes.count, &info)
        try check(headerStatus, info, source: source)
        let width = Int(info.width), height = Int(info.height)
        guard width > 0, height > 0 else {
            throw ImageError.invalidDimensions(file: source, width: width, height: height)
        }
        guard width * height <= options.maxPixels else {
            throw ImageError.tooLarge(file: source, width: width, height: height, maxPixels: options.maxPixels)
        }
        let channels = Int(info.channels), sampleBytes = Int(info.bit_depth) / 8
        var samples = [UInt8](repeating: 0, count: width * height * channels * sampleBytes)
        let status = samples.withUnsafeMutableBufferPointer { out in
            self == .png
                ? lic_png_decode(base, bytes.count, &info, out.baseAddress!, out.count)
                : lic_jpeg_decode(base, bytes.count, &info, out.baseAddress!, out.count)
        }
        try check(status, info, source: source)
        let pixels = convertToRGB(samples, count: width * height, channels: channels,
                                  sixteenBit: sampleBytes == 2)
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    private func check(_ status: lic_status, _ info: lic_info, source: String) throws {
        guard status != LIC_OK else { return }
        var info = info
        let message = withUnsafeBytes(of: &info.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        switch status {
        case LIC_ERROR_UNSUPPORTED:
            throw ImageError.unsupportedMode(file: source, format: name, mode: message)
        default:
            throw ImageError.corrupt(file: source, format: name, message: message)
        }
    }
}

/// Pillow's `convert("RGB")` from the decoded source mode (see `ImageDecoder`).
private func convertToRGB(_ samples: [UInt8], count: Int, channels: Int, sixteenBit: Bool) -> [UInt8] {
    var rgb = [UInt8](repeating: 0, count: count * 3)
    samples.withUnsafeBufferPointer { src in
        rgb.withUnsafeMutableBufferPointer { dst in
            let step = channels * (sixteenBit ? 2 : 1)
            for i in 0..<count {
                let p = i * step
                if channels <= 2 {
                    // Gray: 16-bit without alpha is Pillow's "I;16", clamped; with alpha it is
                    // read as 8-bit (high byte) like the colour modes.
                    let v: UInt8
                    if sixteenBit && channels == 1 {
                        v = UInt8(min(Int(src[p]) << 8 | Int(src[p + 1]), 255))
                    } else {
                        v = src[p]
                    }
                    dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                } else {
                    let s = sixteenBit ? 2 : 1  // big-endian: the high byte comes first
                    dst[3 * i] = src[p]; dst[3 * i + 1] = src[p + s]; dst[3 * i + 2] = src[p + 2 * s]
                }
            }
        }
    }
    return rgb
}

// MARK: - Format sniffing

/// What the leading bytes say the file is.
enum ImageFormat: Equatable {
    case png, jpeg
    case other(String)

    init(sniffing data: Data) {
        let head = [UInt8](data.prefix(16))
        func starts(_ magic: [UInt8]) -> Bool { head.starts(with: magic) }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { self = .png; return }
        if starts([0xFF, 0xD8, 0xFF]) { self = .jpeg; return }
        let known: [([UInt8], String)] = [
            (Array("GIF8".utf8), "a GIF image"), (Array("BM".utf8), "a BMP image"),
            ([0x49, 0x49, 0x2A, 0x00], "a TIFF image"), ([0x4D, 0x4D, 0x00, 0x2A], "a TIFF image"),
            ([0x00, 0x00, 0x01, 0x00], "an ICO image"), (Array("%PDF".utf8), "a PDF document"),
            (Array("<svg".utf8), "an SVG document"), (Array("<?xml".utf8), "an XML document"),
        ]
        if let (_, name) = known.first(where: { starts($0.0) }) { self = .other(name); return }
        if head.count >= 12, head[0..<4] == Array("RIFF".utf8)[...], head[8..<12] == Array("WEBP".utf8)[...] {
            self = .other("a WebP image"); return
        }
        if head.count >= 12, head[4..<8] == Array("ftyp".utf8)[...] {
            self = .other("an ISO media file (HEIC/AVIF/MP4, brand \(String(decoding: head[8..<12], as: UTF8.self)))"); return
        }
        let printable = head.allSatisfy { (0x20..<0x7F).contains($0) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if printable {
            let text = String(decoding: data.prefix(24), as: UTF8.self).replacingOccurrences(of: "\n", with: "\\n")
            self = .other("text \"\(text)\(data.count > 24 ? "…" : "")\"")
        } else {
            self = .other("unrecognised bytes " + head.prefix(8).map { String(format: "%02X", $0) }.joined(separator: " "))
        }
    }
}
