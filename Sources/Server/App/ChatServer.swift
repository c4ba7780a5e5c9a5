import Foundation
import Hummingbird
import NIOCore
import LLaVA
import Logging
import Prometheus
import ServiceLifecycle

/// The OpenAI-compatible server over an inference engine, assembled in one place: the routes,
/// their middleware, and the services that run and stop with it.
///
/// ```swift
/// let registry = ServerMetrics.bootstrapPrometheus()
/// let engine = InferenceEngine(model: model, parallel: 4)
/// let server = try ChatServer(engine: engine, configuration: ServerConfiguration(modelID: "llava"), registry: registry)
/// try await server.run { host, port in print("listening on http://\(host):\(port)") }  // until SIGTERM or SIGINT
/// ```
///
/// | route | answer |
/// |---|---|
/// | `POST /v1/chat/completions` | OpenAI's chat completion, or its stream of chunks |
/// | `GET /v1/models`, `GET /v1/models/{id}` | the served model |
/// | `GET /health` | `{"status":"ok"}` with the engine's queue and slots |
/// | `GET /metrics` | Prometheus text |
/// | `GET /` | the web chat page |
public struct ChatServer: Sendable {
    public let engine: InferenceEngine
    public let configuration: ServerConfiguration
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let chatPage: ChatPage

    /// - Parameters:
    ///   - registry: the registry `ServerMetrics.bootstrapPrometheus()` made the metrics backend; `/metrics` shows it.
    ///   - logger: the logger of the per-request lines and of failures.
    public init(engine: InferenceEngine, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry,
                logger: Logger = Logger(label: "llava.serve")) throws {
        self.engine = engine
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        chatPage = try ChatPage()
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting, finishes the requests in flight and
    /// drains the engine. `onListening` gets the bound host and port (the real one for port 0).
    public func run(onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) async throws {
        do {
            try await makeApplication(onListening: onListening).runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch let error as IOError {
            throw ServerError.cannotListen(host: configuration.host, port: configuration.port,
                                           reason: String(cString: strerror(error.errnoCode)))
        }
    }

    /// The Hummingbird application, for callers that run it in a service group of their own.
    public func makeApplication(onListening: @escaping @Sendable (String, Int) async -> Void)
        -> some ApplicationProtocol {
        let host = configuration.host
        return Application(router: makeRouter(),
                           server: .http1(configuration: .init(additionalChannelHandlers: [HangUpHandler()])),
                           configuration: .init(address: .hostname(host, port: configuration.port), serverName: "llava"),
                           services: [EngineService(engine: engine)],
                           onServerRunning: { channel in await onListening(host, channel.localAddress?.port ?? 0) },
                           logger: logger)
    }

    func makeRouter() -> Router<ServerContext> {
        let metrics = ServerMetrics()
        let router = Router(context: ServerContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger, metrics: metrics))
        router.add(middleware: ErrorMiddleware(logger: logger))
        if let key = configuration.apiKey { router.add(middleware: APIKeyMiddleware(key: key)) }

        let id = configuration.modelID
        let limits = RequestLimits(contextLength: engine.contextLength, maxImagePixels: configuration.maxImagePixels)
        let completions = ChatCompletionsHandler(engine: engine, modelID: id, limits: limits,
                                                 maxBodyBytes: configuration.maxBodyBytes, metrics: metrics)
        let models = ModelsHandler(modelID: id, created: Int(Date().timeIntervalSince1970))
        let health = HealthHandler(engine: engine, modelID: id)
        let metricsPage = MetricsHandler(engine: engine, metrics: metrics, registry: registry)
        let page = chatPage
        router.post("/v1/chat/completions") { try await completions.handle($0, context: $1) }
        router.get("/v1/models") { try models.list($0, context: $1) }
        router.get("/v1/models/{id}") { try models.retrieve($0, context: $1) }
        router.get("/health") { try health.handle($0, context: $1) }
        router.get("/metrics") { metricsPage.handle($0, context: $1) }
        router.get("/") { page.handle($0, context: $1) }
        return router
    }
}
