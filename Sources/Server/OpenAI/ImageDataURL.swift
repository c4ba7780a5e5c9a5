import Foundation
import Vision

/// An image sent inline as a data URI (`data:image/png;base64,…` or `image/jpeg`), decoded
/// under the server's pixel limit. The server never fetches: `http(s)://` and `file://` URLs
/// are refused, so a request cannot make it reach the network or read its disk.
enum ImageDataURL {
    static let mediaTypes: Set<String> = ["image/png", "image/jpeg", "image/jpg"]

    /// Decodes the image that `url` carries; `param` names the content part in errors.
    static func decode(_ url: String, param: String, maxPixels: Int) throws -> RGBImage {
        let data = try payload(of: url, param: param)
        do {
            return try ImageDecoder.decode(data: data, source: param, options: ImageDecodingOptions(maxPixels: maxPixels))
        } catch let error as ImageError {
            throw APIError(image: error, param: param)
        }
    }

    /// The bytes of a base64 data URI of a PNG or JPEG.
    static func payload(of url: String, param: String) throws -> Data {
        let scheme = url.contains(":") ? String(url.prefix { $0 != ":" }.prefix(16)).lowercased() : ""
        guard scheme == "data" else { throw refusal(scheme: scheme, param: param) }
        guard let comma = url.firstIndex(of: ",") else {
            throw APIError.invalidRequest("a data URI needs a ',' before its data", param: param, code: "invalid_image_url")
        }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].lowercased()
        let fields = header.split(separator: ";").map(String.init)
        guard let mediaType = fields.first, mediaTypes.contains(mediaType) else {
            throw APIError.invalidRequest("unsupported image type '\(fields.first ?? "")': send image/png or image/jpeg",
                                          param: param, code: "invalid_image_format")
        }
        guard fields.contains("base64") else {
            throw APIError.invalidRequest("the data URI must be base64 (data:\(mediaType);base64,…)", param: param,
                                          code: "invalid_image_url")
        }
        // Line breaks are allowed, as MIME writes long base64; anything else outside the alphabet is not.
        let text = url[url.index(after: comma)...].filter { !$0.isNewline }
        guard let data = Data(base64Encoded: String(text)) else {
            throw APIError.invalidRequest("the image's base64 data is invalid", param: param, code: "invalid_base64")
        }
        return data
    }

    private static func refusal(scheme: String, param: String) -> APIError {
        switch scheme {
        case "http", "https":
            return .invalidRequest("this server does not fetch remote images: send the image inline as a data URI (data:image/png;base64,…)",
                                   param: param, code: "unsupported_image_url")
        case "file":
            return .invalidRequest("this server does not read files: send the image inline as a data URI (data:image/png;base64,…)",
                                   param: param, code: "unsupported_image_url")
        default:
            let found = scheme.isEmpty ? "no URL scheme" : "a '\(scheme)' URL"
            return .invalidRequest("expected a data URI (data:image/png;base64,…), found \(found)", param: param,
                                   code: "invalid_image_url")
        }
    }
}
