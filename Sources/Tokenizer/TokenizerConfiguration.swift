import Foundation

/// The parts of HF `tokenizer_config.json` that change encoding: whether BOS/EOS are added,
/// and the names of the special tokens. Absent keys stay nil; `Tokenizer` then falls back to
/// the `post_processor` of `tokenizer.json`.
struct TokenizerConfiguration: Decodable {
    var addBOSToken: Bool?
    var addEOSToken: Bool?
    var bosToken: String?
    var eosToken: String?
    var unkToken: String?
    var padToken: String?

    enum CodingKeys: String, CodingKey {
        case addBOSToken = "add_bos_token", addEOSToken = "add_eos_token"
        case bosToken = "bos_token", eosToken = "eos_token", unkToken = "unk_token", padToken = "pad_token"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        addBOSToken = try c.decodeIfPresent(Bool.self, forKey: .addBOSToken)
        addEOSToken = try c.decodeIfPresent(Bool.self, forKey: .addEOSToken)
        bosToken = try c.decodeIfPresent(TokenName.self, forKey: .bosToken)?.content
        eosToken = try c.decodeIfPresent(TokenName.self, forKey: .eosToken)?.content
        unkToken = try c.decodeIfPresent(TokenName.self, forKey: .unkToken)?.content
        padToken = try c.decodeIfPresent(TokenName.self, forKey: .padToken)?.content
    }

    init() {}
}

/// A special token written as `"<s>"` or as `{"__type": "AddedToken", "content": "<s>", …}`.
struct TokenName: Decodable {
    var content: String

    enum CodingKeys: String, CodingKey { case content }

    init(from decoder: Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            content = text
        } else {
            content = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .content)
        }
    }
}
