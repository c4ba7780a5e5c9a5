import LLaVA
import ServiceLifecycle

/// The engine as a service of the application: on graceful shutdown (SIGTERM, SIGINT) it runs
/// after the HTTP server has stopped accepting and finished its requests, then lets the engine
/// drain whatever is left and stop its loop.
struct EngineService: Service {
    let engine: InferenceEngine

    func run() async throws {
        // Returns when graceful shutdown begins; throws if the service group is cancelled instead.
        try? await gracefulShutdown()
        await engine.shutdown()
    }
}
