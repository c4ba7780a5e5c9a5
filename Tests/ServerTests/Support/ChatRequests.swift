import Foundation
import TestSupport

/// Request bodies for the server tests, as an OpenAI client writes them.
enum ChatRequest {
    static let fixtureModel = Fixtures.url("llava/hf-mlp2x-default")

    /// A PNG or JPEG fixture as a data URI.
    static func dataURI(_ file: URL) throws -> String {
        let data = try Data(contentsOf: file)
        let type = data.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "image/png" : "image/jpeg"
        return "data:\(type);base64," + data.base64EncodedString()
    }

    /// A user message: plain text, or text and images as content parts.
    static func user(_ text: String, images: [String] = []) -> [String: Any] {
        guard !images.isEmpty else { return ["role": "user", "content": text] }
        let parts: [[String: Any]] = [["type": "text", "text": text]]
            + images.map { ["type": "image_url", "image_url": ["url": $0]] }
        return ["role": "user", "content": parts]
    }

    /// A greedy request for one user message.
    static func body(_ text: String, images: [String] = [], maxTokens: Int = 20, stream: Bool = false,
                     extra: [String: Any] = [:]) -> [String: Any] {
        var body: [String: Any] = ["messages": [user(text, images: images)], "max_tokens": maxTokens, "temperature": 0]
        if stream { body["stream"] = true }
        for (key, value) in extra { body[key] = value }
        return body
    }
}

extension Dictionary where Key == String, Value == Any {
    /// `choices[0].message.content` of a chat completion.
    var answer: String? { ((self["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String }
    var finishReason: String? { (self["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
    var usage: [String: Int] { self["usage"] as? [String: Int] ?? [:] }
}
