import Foundation
import Hummingbird
import LLaVA

/// `GET /health`: `{"status":"ok"}` with the engine's queue and slots.
struct HealthHandler: Sendable {
    let engine: InferenceEngine
    let modelID: String

    struct Health: Encodable {
        var status = "ok"
        let model: String
        let waiting: Int
        let active: Int
        let parallel: Int
    }

    func handle(_ request: Request, context: ServerContext) throws -> Response {
        let s = engine.status
        return try JSONResponse.make(Health(model: modelID, waiting: s.waiting, active: s.active, parallel: s.parallel))
    }
}
