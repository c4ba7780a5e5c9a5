import Foundation
import Hummingbird
import LLaVA
import NIOCore
import Prometheus

/// `GET /metrics`: every metric in Prometheus' text format, the engine's gauges read now.
struct MetricsHandler: Sendable {
    let engine: InferenceEngine
    let metrics: ServerMetrics
    let registry: PrometheusCollectorRegistry

    func handle(_ request: Request, context: ServerContext) -> Response {
        metrics.record(engine.status)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
}
