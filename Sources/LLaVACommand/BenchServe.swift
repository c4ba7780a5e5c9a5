import ArgumentParser
import Foundation
import LoadGenerator

/// `llava bench serve`: load on a running server (this one's `llava serve` or any
/// OpenAI-compatible one), reported as requests/s, tokens/s and latency percentiles.
struct BenchServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Load-test an OpenAI-compatible server: requests/s, generated tokens/s, TTFT and latency p50/p95/p99.",
        discussion: "Every request is streamed and greedy; the time to first token is read from the stream as it arrives.")

    @Option(help: "The server, e.g. http://127.0.0.1:8080.")
    var url: String

    @Option(help: "Concurrent clients (connections).")
    var clients = 4

    @Option(help: "Requests in all, shared by the clients.")
    var requests = 32

    @Option(help: "A PNG or JPEG sent with every request.")
    var image: String?

    @Option(help: "The question asked.")
    var prompt = "What is the shape of the object?"

    @Option(help: "max_tokens of each request.")
    var maxTokens = 128

    @Option(help: "Bearer token for a server started with --api-key.")
    var apiKey: String?

    @Option(help: "The model id to name (default: the first the server lists).")
    var model: String?

    @Option(help: "Seconds one request may take before it counts as an error.")
    var timeout: Double = 600

    @Option(help: "Requests sent one at a time first and not measured (the server's first touches of its weights).")
    var warmup = 1

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard warmup >= 0 else { throw ValidationError("--warmup must be at least 0, got \(warmup)") }
        guard clients >= 1, requests >= 1 else { throw ValidationError("--clients and --requests must be at least 1") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1, got \(maxTokens)") }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ValidationError("--url must start with http:// or https://, got \(url)")
        }
    }

    func run() async throws {
        let configuration = LoadTestConfiguration(
            url: url, clients: clients, requests: requests, prompt: prompt,
            imageDataURI: try image.map { try LoadTestConfiguration.dataURI(imageFile: $0) },
            maxTokens: maxTokens, apiKey: apiKey, model: model, timeout: timeout, warmupRequests: warmup)
        let report = try await LoadTest(configuration: configuration).run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table)
        }
    }
}
