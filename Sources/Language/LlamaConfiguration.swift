import Foundation

/// Hyper-parameters of a LLaMA-family decoder, decoded from a Hugging Face `config.json`.
///
/// Accepts a bare LLaMA/Mistral/Vicuna config, the `text_config` inside a llava-hf
/// config, and (with `source: .originalLLaVA`) an original LLaVA config, whose LLaMA keys sit
/// at the top level beside the `mm_*` keys under the model_type spellings of the reference's
/// checkpoints (`llava`, `llava_llama`, `llava_mistral`).
/// Both transformers spellings of the rotary settings are read: v4's top-level
/// `rope_theta` + `rope_scaling`, and v5's `rope_parameters`.
///
/// ```swift
/// let config = try LlamaConfiguration(contentsOf: modelDirectory.appendingPathComponent("config.json"))
/// print(config.hiddenSize, config.layerCount)
/// ```
public struct LlamaConfiguration: Sendable, Equatable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var rmsNormEps: Float
    public var ropeTheta: Double
    /// Positions are divided by this before the rotation (`rope_scaling` type `linear`).
    public var ropeLinearFactor: Double
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    public var attentionBias: Bool
    public var mlpBias: Bool
    public var bosTokenID: Int?
    public var eosTokenIDs: [Int]
    public var padTokenID: Int?

    public init(vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int,
                headCount: Int, kvHeadCount: Int? = nil, headDim: Int? = nil,
                rmsNormEps: Float = 1e-6, ropeTheta: Double = 10000, ropeLinearFactor: Double = 1,
                maxPositionEmbeddings: Int = 4096, tieWordEmbeddings: Bool = false,
                attentionBias: Bool = false, mlpBias: Bool = false,
                bosTokenID: Int? = 1, eosTokenIDs: [Int] = [2], padTokenID: Int? = nil) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount ?? headCount
        self.headDim = headDim ?? hiddenSize / headCount
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeLinearFactor = ropeLinearFactor
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.mlpBias = mlpBias
        self.bosTokenID = bosTokenID
        self.eosTokenIDs = eosTokenIDs
        self.padTokenID = padTokenID
    }

    /// Reads and validates `config.json`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.missingFile(url.path)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.invalidConfig(file: url.path, key: "", reason: "not a JSON object")
        }
        try self.init(json: object, file: url.path)
    }

    /// Where a config's decoder keys come from; each accepts its own `model_type` spellings.
    public enum Source: Sendable {
        /// A bare LLM (or the `text_config` of a llava-hf config).
        case languageModel
        /// An original-layout LLaVA config (haotian-liu/LLaVA), already recognised by its `mm_*` keys.
        case originalLLaVA

        /// The `model_type` values a LLaMA-family decoder is written under.
        public var modelTypes: [String] {
            switch self {
            case .languageModel: return ["llama", "mistral", "vicuna"]
            // v1, v1.5 and the LLaMA-2 previews say `llava`; later code `llava_llama`; Mistral `llava_mistral`.
            case .originalLLaVA: return ["llava", "llava_llama", "llava_mistral", "llama", "mistral"]
            }
        }

        /// The `architectures` entries accepted beside them (an original LoRA run keeps its base's).
        var architectures: [String] {
            ["LlavaLlamaForCausalLM", "LlavaMistralForCausalLM", "LlamaForCausalLM", "MistralForCausalLM"]
        }
    }

    /// Decodes from a parsed config; `file` names the source in errors.
    public init(json top: [String: Any], file: String, source: Source = .languageModel) throws {
        var json = top
        var tied = top["tie_word_embeddings"]
        if let text = top["text_config"] as? [String: Any] {
            json = text
            // llava-hf keeps tie_word_embeddings at the top level in some versions.
            tied = text["tie_word_embeddings"] ?? tied
        }
        let r = ConfigReader(json: json, file: file)
        try Self.checkFamily(r, source: top["text_config"] == nil ? source : .languageModel)
        let hidden = try r.int("hidden_size", default: 4096)
        let heads = try r.int("num_attention_heads", default: 32)
        self.init(
            vocabularySize: try r.int("vocab_size", default: 32000),
            hiddenSize: hidden,
            intermediateSize: try r.int("intermediate_size", default: 11008),
            layerCount: try r.int("num_hidden_layers", default: 32),
            headCount: heads,
            kvHeadCount: try r.optionalInt("num_key_value_heads") ?? heads,
            headDim: try r.optionalInt("head_dim") ?? hidden / max(1, heads),
            rmsNormEps: Float(try r.double("rms_norm_eps", default: 1e-6)),
            maxPositionEmbeddings: try r.int("max_position_embeddings", default: 2048),
            tieWordEmbeddings: (tied as? Bool) ?? false,
            attentionBias: try r.bool("attention_bias", default: false),
            mlpBias: try r.bool("mlp_bias", default: false),
            bosTokenID: try r.optionalInt("bos_token_id") ?? 1,
            eosTokenIDs: try r.intOrList("eos_token_id") ?? [2],
            padTokenID: try r.optionalInt("pad_token_id"))
        try readRope(r)
        try validate(file: file)
    }

    /// Refuses a config whose `model_type` (or, for original LLaVA, `architectures`) names
    /// another family, e.g. LLaVA-Lightning-MPT's `llava_mpt` / `LlavaMPTForCausalLM`.
    private static func checkFamily(_ r: ConfigReader, source: Source) throws {
        let modelType = try r.string("model_type", default: "llama")
        let architectures = (r.json["architectures"] as? [String]) ?? []
        let named = architectures.isEmpty ? "" : " (architectures \(architectures.joined(separator: ", ")))"
        guard source.modelTypes.contains(modelType) else {
            let hint = source == .languageModel && Source.originalLLaVA.modelTypes.contains(modelType)
                ? "; it names a LLaVA model, which loads as one (llava generate --model DIR --vision-tower CLIP)" : ""
            throw ModelError.invalidConfig(file: r.file, key: "model_type",
                reason: "'\(modelType)'\(named) is not a LLaMA-family decoder (supported: \(source.modelTypes.joined(separator: ", ")))\(hint)")
        }
        if source == .originalLLaVA, let other = architectures.first(where: { !source.architectures.contains($0) }) {
            throw ModelError.invalidConfig(file: r.file, key: "architectures",
                reason: "'\(other)' is not a LLaMA-family LLaVA (supported: \(source.architectures.joined(separator: ", ")))")
        }
    }

    /// v4: `rope_theta` + `rope_scaling{type|rope_type, factor}`; v5: `rope_parameters{rope_theta, rope_type, factor}`.
    private mutating func readRope(_ r: ConfigReader) throws {
        var theta = try r.optionalDouble("rope_theta")
        var scaling = r.json["rope_scaling"] as? [String: Any]
        var scalingKey = "rope_scaling"
        if let params = r.json["rope_parameters"] as? [String: Any] {
            let p = ConfigReader(json: params, file: r.file, prefix: "rope_parameters.")
            theta = try p.optionalDouble("rope_theta") ?? theta
            scaling = params
            scalingKey = "rope_parameters"
        }
        ropeTheta = theta ?? 10000
        guard let scaling else { return }
        let type = (scaling["rope_type"] ?? scaling["type"]) as? String ?? "default"
        switch type {
        case "default":
            break
        case "linear":
            guard let factor = (scaling["factor"] as? NSNumber)?.doubleValue, factor > 0 else {
                throw ModelError.invalidConfig(file: r.file, key: "\(scalingKey).factor",
                                               reason: "linear rope scaling needs a positive factor")
            }
            ropeLinearFactor = factor
        default:
            throw ModelError.invalidConfig(file: r.file, key: "\(scalingKey).rope_type",
                                           reason: "rope scaling '\(type)' is not supported (supported: default, linear)")
        }
    }

    private func validate(file: String) throws {
        func check(_ ok: Bool, _ key: String, _ reason: String) throws {
            if !ok { throw ModelError.invalidConfig(file: file, key: key, reason: reason) }
        }
        try check(hiddenSize > 0, "hidden_size", "must be positive, got \(hiddenSize)")
        try check(layerCount > 0, "num_hidden_layers", "must be positive, got \(layerCount)")
        try check(vocabularySize > 0, "vocab_size", "must be positive, got \(vocabularySize)")
        try check(intermediateSize > 0, "intermediate_size", "must be positive, got \(intermediateSize)")
        try check(headCount > 0, "num_attention_heads", "must be positive, got \(headCount)")
        try check(kvHeadCount > 0 && headCount % kvHeadCount == 0, "num_key_value_heads",
                  "\(kvHeadCount) must divide num_attention_heads \(headCount)")
        try check(headDim > 0 && headDim % 2 == 0, "head_dim", "must be positive and even, got \(headDim)")
        try check(ropeTheta > 0, "rope_theta", "must be positive, got \(ropeTheta)")
    }
}

/// Typed access to a config dictionary: each accessor names the key when the value is wrong.
struct ConfigReader {
    let json: [String: Any]
    let file: String
    var prefix = ""

    private func bad(_ key: String, _ expected: String, _ value: Any) -> ModelError {
        .invalidConfig(file: file, key: prefix + key, reason: "expected \(expected), found \(value)")
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, !isBool(n), n.doubleValue == n.doubleValue.rounded() else {
            throw bad(key, "an integer", v)
        }
        return n.intValue
    }
    func int(_ key: String, default d: Int) throws -> Int { try optionalInt(key) ?? d }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, !isBool(n) else { throw bad(key, "a number", v) }
        return n.doubleValue
    }
    func double(_ key: String, default d: Double) throws -> Double { try optionalDouble(key) ?? d }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = json[key], !(v is NSNull) else { return d }
        guard let n = v as? NSNumber, isBool(n) else { throw bad(key, "true or false", v) }
        return n.boolValue
    }

    func string(_ key: String, default d: String) throws -> String {
        guard let v = json[key], !(v is NSNull) else { return d }
        guard let s = v as? String else { throw bad(key, "a string", v) }
        return s
    }

    /// An integer or a list of integers (`eos_token_id` is either).
    func intOrList(_ key: String) throws -> [Int]? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        if let list = v as? [NSNumber] { return list.map(\.intValue) }
        return try optionalInt(key).map { [$0] }
    }

    /// JSON `true`/`false` arrive as NSNumber too; their Objective-C type code is 'c' (char).
    private func isBool(_ n: NSNumber) -> Bool {
        String(cString: n.objCType) == "c"
    }
}
