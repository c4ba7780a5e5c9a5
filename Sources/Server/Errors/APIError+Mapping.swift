import Foundation
import Hummingbird
import LLaVA
import NIOCore
import Vision

/// How each library's typed error reads as OpenAI's error object.
extension APIError {
    /// The API error for anything a handler throws: API errors as they are, the engine's and
    /// the decoders' errors translated, anything else a 500 that names it.
    public init(_ error: Error) {
        switch error {
        case let e as APIError: self = e
        case let e as EngineError: self = APIError(engine: e)
        case let e as DecodingError: self = APIError(decoding: e)
        case is NIOTooManyBytesError: self = .internalError("a body grew past its limit")
        case let e as HTTPError: self = APIError(status: e.status, message: e.body ?? e.status.reasonPhrase,
                                                 type: e.status.code >= 500 ? "server_error" : "invalid_request_error")
        default: self = .internalError("The server failed to answer: \(error)")
        }
    }

    /// The engine's refusals: an unanswerable request (400), a prompt over the context (400
    /// `context_length_exceeded`), a full queue (503 with `Retry-After`), a shutdown (503).
    init(engine error: EngineError) {
        switch error {
        case .invalidRequest(let parameter, let reason):
            self = .invalidRequest(reason, param: parameter)
        case .contextLengthExceeded(let prompt, let requested, let context):
            self = APIError(status: .badRequest,
                            message: "This model's maximum context length is \(context) tokens. However, your messages resulted in \(prompt) tokens and at least \(requested) more are needed for the answer. Please reduce the length of the messages or images.",
                            type: "invalid_request_error", param: "messages", code: "context_length_exceeded")
        case .queueFull(let waiting):
            self = .overloaded(waiting: waiting)
        case .shuttingDown:
            self = .shuttingDown
        }
    }

    /// A body that is not JSON, or JSON of the wrong shape: 400 naming the field by its path.
    init(decoding error: DecodingError) {
        switch error {
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            self = .invalidRequest("the body must be a JSON object", param: nil, code: "invalid_type")
        case .typeMismatch(_, let context):
            self = .invalidRequest(context.debugDescription, param: Self.param(context.codingPath), code: "invalid_type")
        case .valueNotFound(_, let context):
            self = .invalidRequest("expected a value, found null", param: Self.param(context.codingPath), code: "invalid_type")
        case .keyNotFound(let key, let context):
            let param = Self.param(context.codingPath + [key])
            self = .invalidRequest("this parameter is required", param: param, code: "missing_required_parameter")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            self = .invalidRequest("We could not parse the JSON body of your request: \(Self.reason(context))",
                                   param: nil, code: "invalid_json")
        case .dataCorrupted(let context):
            self = .invalidRequest(context.debugDescription, param: Self.param(context.codingPath), code: "invalid_value")
        @unknown default:
            self = .invalidRequest("\(error)", param: nil)
        }
    }

    /// `messages[0].content[1].image_url`: keys joined by dots, array positions in brackets.
    static func param(_ path: [CodingKey]) -> String? {
        guard !path.isEmpty else { return nil }
        var text = ""
        for key in path {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }

    /// The parser's own words when it has them ("Unexpected end of file …"), ending in one full stop.
    private static func reason(_ context: DecodingError.Context) -> String {
        var text = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription
        while text.hasSuffix(".") { text.removeLast() }
        return text + "."
    }
}

extension APIError {
    /// An image that could not be used: 400 naming the content part, `image_too_large` when
    /// its header declares more pixels than `--max-image-megapixels`.
    init(image error: ImageError, param: String) {
        switch error {
        case .tooLarge(_, let width, let height, let maxPixels):
            self = .invalidRequest("the image is \(width)x\(height) = \(width * height) pixels, over this server's limit of \(maxPixels) pixels",
                                   param: param, code: "image_too_large")
        case .unsupportedFormat(_, let found):
            self = .invalidRequest("unsupported image format: expected PNG or JPEG, found \(found)", param: param,
                                   code: "invalid_image_format")
        default:
            // The decoder names its source, which is `param`; the message leads with it already.
            let reason = "\(error)".replacingOccurrences(of: param + ": ", with: "")
            self = .invalidRequest("the image could not be decoded: \(reason)", param: param, code: "invalid_image")
        }
    }
}
