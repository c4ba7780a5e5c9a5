import Foundation

/// Why an image could not be decoded, or a preprocessor configuration could not be read.
///
/// Every case names the file, so a message on its own says which input was wrong:
/// ```swift
/// do { _ = try ImageDecoder.decode(contentsOf: url) }
/// catch let error as ImageError { print(error) }  // "photo.png: truncated or corrupt PNG data (…)"
/// ```
public enum ImageError: Error, CustomStringConvertible, Equatable {
    /// No file at this path.
    case fileNotFound(file: String)
    /// The file exists but could not be read (permissions, a directory, an I/O error).
    case unreadable(file: String, reason: String)
    /// The file has zero bytes.
    case emptyFile(file: String)
    /// Not PNG or JPEG; `found` says what the leading bytes look like.
    case unsupportedFormat(file: String, found: String)
    /// A PNG or JPEG in a mode this decoder does not handle (e.g. a CMYK JPEG).
    case unsupportedMode(file: String, format: String, mode: String)
    /// The codec rejected the data (truncated, bad CRC, bad Huffman code, …).
    case corrupt(file: String, format: String, message: String)
    /// The header declares more pixels than `ImageDecodingOptions.maxPixels`; refused before
    /// allocating anything.
    case tooLarge(file: String, width: Int, height: Int, maxPixels: Int)
    /// The header declares a zero width or height.
    case invalidDimensions(file: String, width: Int, height: Int)
    /// A `preprocessor_config.json` value that is missing its expected type or range.
    case invalidConfiguration(file: String, key: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .fileNotFound(let file):
            return "\(file): no such image file"
        case .unreadable(let file, let reason):
            return "\(file): cannot read the file (\(reason))"
        case .emptyFile(let file):
            return "\(file): the file is empty (0 bytes)"
        case .unsupportedFormat(let file, let found):
            return "\(file): unsupported image format: expected PNG or JPEG, found \(found)"
        case .unsupportedMode(let file, let format, let mode):
            return "\(file): unsupported \(format) mode \(mode) (expected grayscale or RGB)"
        case .corrupt(let file, let format, let message):
            return "\(file): truncated or corrupt \(format) data (\(message))"
        case .tooLarge(let file, let width, let height, let maxPixels):
            return "\(file): image of \(width)x\(height) = \(width * height) pixels exceeds the limit of \(maxPixels) pixels"
        case .invalidDimensions(let file, let width, let height):
            return "\(file): invalid image dimensions \(width)x\(height)"
        case .invalidConfiguration(let file, let key, let value, let expected):
            return "\(file): invalid value \(value) for \"\(key)\": expected \(expected)"
        }
    }
}
