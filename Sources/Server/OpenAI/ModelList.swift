/// `GET /v1/models`: the one model this server serves, as OpenAI lists models.
struct ModelList: Encodable {
    struct Model: Encodable {
        let id: String
        var object = "model"
        let created: Int
        var ownedBy = "llava"

        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
    }

    var object = "list"
    let data: [Model]
}
