/// How `llava serve` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// Address to bind; `127.0.0.1` keeps the server on this machine.
    public var host: String
    /// Port to bind; 0 lets the system pick a free one (the bound port is reported once listening).
    public var port: Int
    /// The id clients name in `model` and `/v1/models` lists.
    public var modelID: String
    /// When set, `/v1/…` requests need `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// The largest request body accepted (413 beyond it).
    public var maxBodyBytes: Int
    /// The most pixels an image may declare (400 beyond it, refused before decoding).
    public var maxImagePixels: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, modelID: String, apiKey: String? = nil,
                maxBodyBytes: Int = 32 << 20, maxImagePixels: Int = 64_000_000) {
        self.host = host
        self.port = port
        self.modelID = modelID
        self.apiKey = apiKey
        self.maxBodyBytes = maxBodyBytes
        self.maxImagePixels = maxImagePixels
    }
}
