import AsyncHTTPClient
import Foundation
import NIOCore

/// One streamed chat completion as the load generator sees it.
struct RequestSample: Sendable {
    /// Seconds to the first chunk of the answer, and to the first with text.
    var firstChunk: Double?, firstText: Double?
    var seconds: Double
    var completionTokens: Int
    /// When the request was sent, in seconds from the start of the load test.
    var startedAt: Double = 0
    /// Why the request failed; nil when it succeeded.
    var error: String?

    /// Seconds to the first chunk of the answer, which servers send with (or just before) the
    /// first token. The first text can come much later: tokens may decode to no text yet (a
    /// character split over byte tokens, or random weights with a borrowed tokenizer).
    var secondsToFirstToken: Double? { firstChunk ?? firstText }

    /// The stretch of the test, in seconds from its start, in which this request's tokens after
    /// the first were decoded; nil when there were none.
    var decoding: ClosedRange<Double>? {
        guard error == nil, completionTokens > 1, let first = secondsToFirstToken else { return nil }
        return (startedAt + first)...(startedAt + max(first, seconds))
    }
}

/// Sends one streaming request and times it from the bytes as they arrive.
struct StreamedCompletion {
    let client: HTTPClient
    let configuration: LoadTestConfiguration
    let body: Data

    func run(testStart: ContinuousClock.Instant) async -> RequestSample {
        let start = ContinuousClock.now
        func elapsed() -> Double { Self.seconds(ContinuousClock.now - start) }
        var sample = await send(elapsed: elapsed)
        sample.startedAt = Self.seconds(start - testStart)
        return sample
    }

    private func send(elapsed: () -> Double) async -> RequestSample {
        var request = HTTPClientRequest(url: configuration.completionsURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(configuration.timeout * 1000)))
            guard response.status == .ok else {
                let text = try await response.body.collect(upTo: 1 << 20)
                return RequestSample(seconds: elapsed(), completionTokens: 0,
                                     error: "HTTP \(response.status.code): \(Self.errorMessage(text))")
            }
            var reader = EventReader()
            var sample = RequestSample(seconds: 0, completionTokens: 0)
            for try await buffer in response.body {
                for event in reader.feed(buffer) { Self.apply(event, to: &sample, at: elapsed()) }
            }
            sample.seconds = elapsed()
            if !reader.sawDone { sample.error = "the stream ended without [DONE]" }
            return sample
        } catch {
            return RequestSample(seconds: elapsed(), completionTokens: 0, error: "\(error)")
        }
    }

    /// What one `data:` event says: text arrived, the usage, or an error.
    private static func apply(_ event: [String: Any], to sample: inout RequestSample, at time: Double) {
        if let error = event["error"] as? [String: Any] {
            sample.error = error["message"] as? String ?? "error event"
        }
        let choice = (event["choices"] as? [[String: Any]])?.first
        if choice != nil, sample.firstChunk == nil { sample.firstChunk = time }
        if let text = (choice?["delta"] as? [String: Any])?["content"] as? String, !text.isEmpty, sample.firstText == nil {
            sample.firstText = time
        }
        if let usage = event["usage"] as? [String: Any], let tokens = usage["completion_tokens"] as? Int {
            sample.completionTokens = tokens
        }
    }

    private static func errorMessage(_ buffer: ByteBuffer) -> String {
        let data = Data(buffer.readableBytesView)
        if let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let error = json["error"] as? [String: Any], let message = error["message"] as? String { return message }
        return String(decoding: data.prefix(200), as: UTF8.self)
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
}
