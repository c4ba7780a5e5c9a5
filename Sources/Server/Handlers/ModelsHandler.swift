import Foundation
import Hummingbird

/// `GET /v1/models` and `GET /v1/models/{id}`: the one model served.
struct ModelsHandler: Sendable {
    let modelID: String
    let created: Int

    func list(_ request: Request, context: ServerContext) throws -> Response {
        try JSONResponse.make(ModelList(data: [model]))
    }

    func retrieve(_ request: Request, context: ServerContext) throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard id == modelID else { throw APIError.modelNotFound(id, served: modelID) }
        return try JSONResponse.make(model)
    }

    private var model: ModelList.Model { ModelList.Model(id: modelID, created: created) }
}
