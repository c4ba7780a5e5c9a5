import Foundation
import LLaVA
import Metrics
import Prometheus

/// The server's metrics, recorded through swift-metrics (so any backend can take them) and
/// exposed at `/metrics` by swift-prometheus when `bootstrapPrometheus()` has made it the backend.
///
/// ```swift
/// let registry = ServerMetrics.bootstrapPrometheus()   // once per process
/// let metrics = ServerMetrics()
/// metrics.record(status: 200, path: "/v1/chat/completions")
/// print(registry.emitToString())                       // llava_http_requests_total{…} 1
/// ```
public struct ServerMetrics: Sendable {
    public static let requests = "llava_http_requests_total"
    public static let promptTokens = "llava_prompt_tokens_total"
    public static let generatedTokens = "llava_generation_tokens_total"
    public static let queueDepth = "llava_queue_depth"
    public static let activeSequences = "llava_active_sequences"
    public static let timeToFirstToken = "llava_time_to_first_token_seconds"
    public static let timePerOutputToken = "llava_time_per_output_token_seconds"
    public static let requestDuration = "llava_request_duration_seconds"

    private let promptTokenCounter = Counter(label: promptTokens)
    private let generatedTokenCounter = Counter(label: generatedTokens)
    private let queueGauge = Gauge(label: queueDepth)
    private let activeGauge = Gauge(label: activeSequences)
    private let firstTokenTimer = Metrics.Timer(label: timeToFirstToken)
    private let perTokenTimer = Metrics.Timer(label: timePerOutputToken)
    private let durationTimer = Metrics.Timer(label: requestDuration)

    public init() {}

    /// Makes swift-prometheus the swift-metrics backend, with histogram buckets suited to each
    /// latency, and returns the registry `/metrics` reads. Call once per process.
    public static func bootstrapPrometheus() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let seconds: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
        let perToken: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
        factory.durationHistogramBuckets = [
            timeToFirstToken: seconds.map { .milliseconds(Int64($0 * 1000)) },
            requestDuration: seconds.map { .milliseconds(Int64($0 * 1000)) },
            timePerOutputToken: perToken.map { .microseconds(Int64($0 * 1_000_000)) },
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// One HTTP request answered, by path and status code.
    public func record(status: Int, path: String) {
        Counter(label: Self.requests, dimensions: [("path", path), ("status", String(status))]).increment()
    }

    /// A completion's token counts and latencies: time to first token, the mean time per output
    /// token after the first, and the whole request.
    public func record(_ summary: CompletionSummary) {
        promptTokenCounter.increment(by: summary.promptTokens)
        generatedTokenCounter.increment(by: summary.completionTokens)
        firstTokenTimer.recordSeconds(summary.secondsToFirstToken)
        durationTimer.recordSeconds(summary.seconds)
        if summary.completionTokens > 1 {
            perTokenTimer.recordSeconds((summary.seconds - summary.secondsToFirstToken) / Double(summary.completionTokens - 1))
        }
    }

    /// The engine's queue depth and active sequences now (read when `/metrics` is scraped).
    public func record(_ status: EngineStatus) {
        queueGauge.record(status.waiting)
        activeGauge.record(status.active)
    }
}
