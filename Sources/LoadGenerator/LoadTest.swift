import AsyncHTTPClient
import Foundation
import NIOCore

/// A load generator for OpenAI-compatible chat servers: `clients` connections send
/// `requests` streamed chat completions between them, as fast as the server answers.
///
/// ```swift
/// let test = LoadTest(configuration: LoadTestConfiguration(url: "http://127.0.0.1:8080", clients: 8, requests: 64,
///                                                          prompt: "What is the shape of the object?"))
/// let report = try await test.run()
/// print(report.table)   // requests/s, generated tokens/s, TTFT and latency p50/p95/p99, errors
/// ```
public struct LoadTest: Sendable {
    public let configuration: LoadTestConfiguration

    public init(configuration: LoadTestConfiguration) {
        self.configuration = configuration
    }

    /// Sends every request and reports; throws only if the test cannot start (no model id to
    /// name). Failed requests are counted in the report, by message.
    public func run() async throws -> LoadReport {
        var settings = HTTPClient.Configuration()
        settings.connectionPool = .init(idleTimeout: .seconds(60),
                                        concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, configuration.clients))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
        do {
            let report = try await run(with: client)
            try await client.shutdown()
            return report
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func run(with client: HTTPClient) async throws -> LoadReport {
        let model: String
        if let named = configuration.model { model = named } else { model = try await servedModel(client) }
        let body = try requestBody(model: model)
        for _ in 0..<configuration.warmupRequests {
            let warmup = await StreamedCompletion(client: client, configuration: configuration, body: body).run(testStart: .now)
            if let error = warmup.error { throw LoadTestError.warmupFailed(error) }
        }
        let counter = RequestCounter(limit: configuration.requests)
        let start = ContinuousClock.now
        let samples = await withTaskGroup(of: [RequestSample].self) { group in
            for _ in 0..<max(1, configuration.clients) {
                group.addTask {
                    var mine: [RequestSample] = []
                    while counter.next() {
                        mine.append(await StreamedCompletion(client: client, configuration: configuration, body: body).run(testStart: start))
                    }
                    return mine
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        return LoadReport(configuration: configuration, samples: samples,
                          wallSeconds: StreamedCompletion.seconds(ContinuousClock.now - start))
    }

    /// The request every client sends: greedy, streamed, with the usage at the end.
    func requestBody(model: String) throws -> Data {
        var content: [[String: Any]] = [["type": "text", "text": configuration.prompt]]
        if let image = configuration.imageDataURI { content.append(["type": "image_url", "image_url": ["url": image]]) }
        let object: [String: Any] = [
            "model": model, "messages": [["role": "user", "content": content]], "max_tokens": configuration.maxTokens,
            "temperature": 0, "stream": true, "stream_options": ["include_usage": true],
        ]
        return try JSONSerialization.data(withJSONObject: object)
    }

    /// The first model `/v1/models` lists.
    private func servedModel(_ client: HTTPClient) async throws -> String {
        var request = HTTPClientRequest(url: configuration.modelsURL)
        if let key = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok,
                  let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                  let data = json["data"] as? [[String: Any]], let id = data.first?["id"] as? String else {
                throw LoadTestError.noModel(url: configuration.modelsURL, reason: "HTTP \(response.status.code)")
            }
            return id
        } catch let error as LoadTestError {
            throw error
        } catch {
            throw LoadTestError.noModel(url: configuration.modelsURL, reason: "\(error)")
        }
    }
}

/// Hands out request numbers to the clients until `limit` have been taken.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = 0
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func next() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard taken < limit else { return false }
        taken += 1
        return true
    }
}
