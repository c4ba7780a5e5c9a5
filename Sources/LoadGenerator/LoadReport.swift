import Foundation

/// A load test's outcome: throughput, latency percentiles and the errors, by count.
public struct LoadReport: Encodable, Sendable {
    /// p50, p95 and p99 of a set of seconds (nearest rank); nil when there are no values.
    public struct Percentiles: Encodable, Sendable {
        public let p50: Double, p95: Double, p99: Double

        init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            func rank(_ p: Double) -> Double { sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))] }
            p50 = rank(0.50); p95 = rank(0.95); p99 = rank(0.99)
        }
    }

    public let url: String
    public let clients: Int
    public let requests: Int
    public let succeeded: Int
    public let failed: Int
    public let wallSeconds: Double
    public let requestsPerSecond: Double
    public let generatedTokens: Int
    /// Generated tokens of all requests over the wall time.
    public let generatedTokensPerSecond: Double
    /// Tokens after each request's first, over the time in which at least one request was
    /// decoding (the union of their first-token-to-end stretches): the server's aggregate decode
    /// rate, with the prefills it interleaved counted against it.
    public let decodeTokensPerSecond: Double
    public let timeToFirstToken: Percentiles?
    public let latency: Percentiles?
    /// Each distinct error message and how many requests got it.
    public let errors: [String: Int]

    enum CodingKeys: String, CodingKey {
        case url, clients, requests, succeeded, failed, errors, latency
        case wallSeconds = "wall_seconds", requestsPerSecond = "requests_per_second", generatedTokens = "generated_tokens"
        case generatedTokensPerSecond = "generated_tokens_per_second", decodeTokensPerSecond = "decode_tokens_per_second", timeToFirstToken = "time_to_first_token"
    }

    init(configuration: LoadTestConfiguration, samples: [RequestSample], wallSeconds: Double) {
        let good = samples.filter { $0.error == nil }
        url = configuration.completionsURL
        clients = configuration.clients
        requests = samples.count
        succeeded = good.count
        failed = samples.count - good.count
        self.wallSeconds = wallSeconds
        requestsPerSecond = wallSeconds > 0 ? Double(good.count) / wallSeconds : 0
        generatedTokens = good.reduce(0) { $0 + $1.completionTokens }
        generatedTokensPerSecond = wallSeconds > 0 ? Double(generatedTokens) / wallSeconds : 0
        let decoding = good.compactMap(\.decoding)
        let decodeSeconds = Self.coveredLength(decoding)
        let decodeTokens = good.filter { $0.decoding != nil }.reduce(0) { $0 + $1.completionTokens - 1 }
        decodeTokensPerSecond = decodeSeconds > 0 ? Double(decodeTokens) / decodeSeconds : 0
        timeToFirstToken = Percentiles(good.compactMap(\.secondsToFirstToken))
        latency = Percentiles(good.map(\.seconds))
        errors = Dictionary(samples.compactMap(\.error).map { ($0, 1) }, uniquingKeysWith: +)
    }

    /// The length of the union of some intervals.
    static func coveredLength(_ intervals: [ClosedRange<Double>]) -> Double {
        var total = 0.0, end = -Double.infinity
        for interval in intervals.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            let start = max(interval.lowerBound, end)
            if interval.upperBound > start { total += interval.upperBound - start }
            end = max(end, interval.upperBound)
        }
        return total
    }

    /// A short human-readable summary.
    public var table: String {
        func ms(_ p: Percentiles?) -> String {
            guard let p else { return "-" }
            return String(format: "p50 %.0f ms, p95 %.0f ms, p99 %.0f ms", p.p50 * 1000, p.p95 * 1000, p.p99 * 1000)
        }
        var lines = [
            "\(url): \(clients) clients, \(requests) requests, \(succeeded) ok, \(failed) failed in \(String(format: "%.2f", wallSeconds)) s",
            String(format: "requests/s: %.2f", requestsPerSecond),
            String(format: "generated tokens/s: %.1f (%d tokens)", generatedTokensPerSecond, generatedTokens),
            String(format: "decode tokens/s, all requests together: %.2f", decodeTokensPerSecond),
            "time to first token: \(ms(timeToFirstToken))",
            "end-to-end latency: \(ms(latency))",
        ]
        for (message, count) in errors.sorted(by: { $0.value > $1.value }) { lines.append("error ×\(count): \(message)") }
        return lines.joined(separator: "\n")
    }
}
