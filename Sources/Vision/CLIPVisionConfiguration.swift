import Foundation

/// The MLP activation of a CLIP encoder layer (`hidden_act`).
public enum CLIPActivation: String, Sendable, CaseIterable {
    /// x · sigmoid(1.702 x): OpenAI CLIP, and so every LLaVA tower.
    case quickGELU = "quick_gelu"
    /// Exact (erf) GELU.
    case gelu = "gelu"
}

/// Hyper-parameters of a CLIP ViT vision tower, decoded from a Hugging Face `config.json`.
///
/// Accepts a bare CLIP directory's config (`model_type` "clip" with a `vision_config`
/// object, or "clip_vision_model" with the keys at top level) and a llava-hf config
/// (its `vision_config`). A key that is absent takes transformers' `CLIPVisionConfig`
/// default (ViT-B/32: hidden 768, 12 layers, image 224, patch 32), as transformers
/// itself would; a llava config with no `vision_config` at all means LLaVA-1.5's tower,
/// CLIP ViT-L/14-336 (``vitL14_336``), as `LlavaConfig` does.
///
/// ```swift
/// let config = try CLIPVisionConfiguration(contentsOf: llavaDirectory.appendingPathComponent("config.json"))
/// print(config.patchesPerSide, config.positionCount)   // 24, 577 for ViT-L/14-336
/// ```
public struct CLIPVisionConfiguration: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var imageSize: Int
    public var patchSize: Int
    public var channelCount: Int
    public var layerNormEps: Float
    public var activation: CLIPActivation

    /// Patches along one side: the convolution's output width (a remainder of the image is dropped, as a strided conv does).
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Patches per image.
    public var patchCount: Int { patchesPerSide * patchesPerSide }
    /// Token rows per image: the patches plus the class token.
    public var positionCount: Int { patchCount + 1 }
    public var headDim: Int { hiddenSize / headCount }

    public init(hiddenSize: Int = 1024, intermediateSize: Int = 4096, layerCount: Int = 24,
                headCount: Int = 16, imageSize: Int = 336, patchSize: Int = 14, channelCount: Int = 3,
                layerNormEps: Float = 1e-5, activation: CLIPActivation = .quickGELU) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.channelCount = channelCount
        self.layerNormEps = layerNormEps
        self.activation = activation
    }

    /// CLIP ViT-L/14 at 336 px (`openai/clip-vit-large-patch14-336`), LLaVA-1.5's tower: 576 patches.
    public static let vitL14_336 = CLIPVisionConfiguration()

    /// Reads and validates `config.json` (bare CLIP or llava-hf).
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw CLIPVisionError.missingFile(url.path) }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CLIPVisionError.invalidConfig(file: url.path, key: "", reason: "not a JSON object")
        }
        try self.init(json: object, file: url.path)
    }

    /// Decodes from a parsed config (a whole `config.json`, or a `vision_config` object on its
    /// own); `file` names the source in errors.
    public init(json top: [String: Any], file: String) throws {
        let topType = try CLIPConfigReader(json: top, file: file).string("model_type", default: "")
        if let nested = top["vision_config"], !(nested is NSNull) {
            guard let vision = nested as? [String: Any] else {
                throw CLIPVisionError.invalidConfig(file: file, key: "vision_config", reason: "expected an object, found \(nested)")
            }
            try self.init(reader: CLIPConfigReader(json: vision, file: file, prefix: "vision_config."))
        } else if topType.hasPrefix("llava") {
            self = .vitL14_336
        } else if topType == "clip" {
            // CLIPConfig without vision_config: transformers' CLIPVisionConfig defaults.
            try self.init(reader: CLIPConfigReader(json: [:], file: file, prefix: "vision_config."))
        } else {
            try self.init(reader: CLIPConfigReader(json: top, file: file))
        }
    }

    private init(reader r: CLIPConfigReader) throws {
        let type = try r.string("model_type", default: "clip_vision_model")
        guard type == "clip_vision_model" else {
            throw r.invalid("model_type", "'\(type)' is not a CLIP vision tower (expected clip_vision_model, or a clip config with vision_config)")
        }
        let act = try r.string("hidden_act", default: "quick_gelu")
        guard let activation = CLIPActivation(rawValue: act) else {
            throw r.invalid("hidden_act", "'\(act)' is not supported (supported: \(CLIPActivation.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        // Defaults are transformers' CLIPVisionConfig's, so a sparse config means what it means there.
        self.init(hiddenSize: try r.int("hidden_size", default: 768),
                  intermediateSize: try r.int("intermediate_size", default: 3072),
                  layerCount: try r.int("num_hidden_layers", default: 12),
                  headCount: try r.int("num_attention_heads", default: 12),
                  imageSize: try r.int("image_size", default: 224),
                  patchSize: try r.int("patch_size", default: 32),
                  channelCount: try r.int("num_channels", default: 3),
                  layerNormEps: Float(try r.double("layer_norm_eps", default: 1e-5)),
                  activation: activation)
        try validate(r)
    }

    private func validate(_ r: CLIPConfigReader) throws {
        func check(_ ok: Bool, _ key: String, _ reason: String) throws {
            if !ok { throw r.invalid(key, reason) }
        }
        try check(hiddenSize > 0, "hidden_size", "must be positive, got \(hiddenSize)")
        try check(intermediateSize > 0, "intermediate_size", "must be positive, got \(intermediateSize)")
        try check(layerCount > 0, "num_hidden_layers", "must be positive, got \(layerCount)")
        try check(headCount > 0 && hiddenSize % headCount == 0, "num_attention_heads",
                  "\(headCount) must be positive and divide hidden_size \(hiddenSize)")
        try check(channelCount > 0, "num_channels", "must be positive, got \(channelCount)")
        try check(patchSize > 0, "patch_size", "must be positive, got \(patchSize)")
        try check(imageSize >= patchSize, "image_size", "\(imageSize) must be at least patch_size \(patchSize)")
        try check(layerNormEps > 0, "layer_norm_eps", "must be positive, got \(layerNormEps)")
    }
}

/// Typed access to a config dictionary: each accessor names the key (with its
/// `vision_config.` prefix when nested) when the value is wrong.
struct CLIPConfigReader {
    let json: [String: Any]
    let file: String
    var prefix = ""

    func invalid(_ key: String, _ reason: String) -> CLIPVisionError {
        .invalidConfig(file: file, key: prefix + key, reason: reason)
    }

    private func value(_ key: String) -> Any? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        return v
    }

    func int(_ key: String, default d: Int) throws -> Int {
        guard let v = value(key) else { return d }
        guard let n = v as? NSNumber, !isBool(n), n.doubleValue == n.doubleValue.rounded() else {
            throw invalid(key, "expected an integer, found \(v)")
        }
        return n.intValue
    }

    func double(_ key: String, default d: Double) throws -> Double {
        guard let v = value(key) else { return d }
        guard let n = v as? NSNumber, !isBool(n) else { throw invalid(key, "expected a number, found \(v)") }
        return n.doubleValue
    }

    func string(_ key: String, default d: String) throws -> String {
        guard let v = value(key) else { return d }
        guard let s = v as? String else { throw invalid(key, "expected a string, found \(v)") }
        return s
    }

    /// JSON `true`/`false` arrive as NSNumber too; their Objective-C type code is 'c' (char).
    private func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }
}
