import Foundation

/// What a load test sends: `requests` chat completions over `clients` concurrent connections,
/// each streamed, so the time to the first token can be measured.
public struct LoadTestConfiguration: Sendable {
    /// The server, as `http://HOST:PORT` (or the full `…/v1/chat/completions` URL).
    public var url: String
    public var clients: Int
    public var requests: Int
    public var prompt: String
    /// An image sent with every request, as a data URI (see `dataURI(imageFile:)`).
    public var imageDataURI: String?
    public var maxTokens: Int
    public var apiKey: String?
    /// The model id to name; nil asks the server's `/v1/models` for its first.
    public var model: String?
    /// Seconds one request may take before it counts as an error.
    public var timeout: Double
    /// Requests sent one at a time before the test and left out of the report, so that the
    /// server's first touches of its weights and buffers are not measured (as llama-bench's
    /// warm-up run).
    public var warmupRequests: Int

    public init(url: String, clients: Int, requests: Int, prompt: String, imageDataURI: String? = nil,
                maxTokens: Int = 128, apiKey: String? = nil, model: String? = nil, timeout: Double = 600,
                warmupRequests: Int = 0) {
        self.url = url
        self.clients = clients
        self.requests = requests
        self.prompt = prompt
        self.imageDataURI = imageDataURI
        self.maxTokens = maxTokens
        self.apiKey = apiKey
        self.model = model
        self.timeout = timeout
        self.warmupRequests = warmupRequests
    }

    /// `…/v1/chat/completions` and `…/v1/models` under the given URL.
    var completionsURL: String { endpoint("chat/completions") }
    var modelsURL: String { endpoint("models") }

    private func endpoint(_ name: String) -> String {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        for suffix in ["/v1/chat/completions", "/v1"] where base.hasSuffix(suffix) { base.removeLast(suffix.count) }
        return base + "/v1/" + name
    }

    /// A PNG or JPEG file as a data URI; the type comes from the file's leading bytes.
    public static func dataURI(imageFile path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let head = [UInt8](data.prefix(4))
        let type: String
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { type = "image/png" }
        else if head.starts(with: [0xFF, 0xD8, 0xFF]) { type = "image/jpeg" }
        else { throw LoadTestError.unsupportedImage(path) }
        return "data:\(type);base64," + data.base64EncodedString()
    }
}

/// Why a load test could not start.
public enum LoadTestError: Error, CustomStringConvertible {
    case unsupportedImage(String)
    case noModel(url: String, reason: String)
    case warmupFailed(String)

    public var description: String {
        switch self {
        case .unsupportedImage(let path): return "\(path): not a PNG or JPEG file"
        case .noModel(let url, let reason): return "could not learn the model id from \(url): \(reason) (pass --model)"
        case .warmupFailed(let reason): return "the warm-up request failed: \(reason)"
        }
    }
}
