import Foundation
import Language
import Vision

/// The two ways LLaVA checkpoints are written.
public enum CheckpointLayout: String, Sendable, Codable {
    /// llava-hf (`LlavaForConditionalGeneration`): tower, projector and LLM in one directory;
    /// the `<image>` token is expanded to one copy per feature.
    case llavaHF = "llava-hf"
    /// haotian-liu/LLaVA: a LLaMA checkpoint plus `model.mm_projector.*`; the CLIP tower lives in
    /// its own directory (`mm_vision_tower`); one `-200` placeholder takes all features.
    case original
}

/// The projector's architecture: `linear`, `identity`, or `mlp{N}x_gelu`.
public enum ProjectorKind: Sendable, Equatable, CustomStringConvertible {
    case identity
    case linear
    /// N Linear layers with an activation between each pair (LLaVA-1.5: N = 2, GELU).
    case mlp(depth: Int)

    /// Parses the reference's `mm_projector_type` spelling.
    public init?(name: String) {
        switch name {
        case "identity": self = .identity
        case "linear": self = .linear
        default:
            guard name.hasPrefix("mlp"), name.hasSuffix("x_gelu"),
                  let n = Int(name.dropFirst(3).dropLast(6)), n >= 1 else { return nil }
            self = n == 1 ? .linear : .mlp(depth: n)
        }
    }

    public var description: String {
        switch self {
        case .identity: return "identity"
        case .linear: return "linear"
        case .mlp(let n): return "mlp\(n)x_gelu"
        }
    }
}

/// Activation between projector layers (`projector_hidden_act`).
public enum ProjectorActivation: String, Sendable {
    case gelu, quickGELU = "quick_gelu", relu, silu
}

/// Everything about a LLaVA checkpoint beyond its two towers' own configs.
public struct LLaVAConfiguration: Sendable {
    public var layout: CheckpointLayout
    public var text: LlamaConfiguration
    /// The vision tower's config; for the original layout it comes from the tower's directory.
    public var vision: CLIPVisionConfiguration?
    /// The id that marks an image in the prompt: `image_token_index` (llava-hf) or -200 (original).
    public var imageTokenID: Int
    /// `vision_feature_layer` / `mm_vision_select_layer`.
    public var visionFeatureLayer: Int
    public var featureSelection: CLIPFeatureSelection
    public var projector: ProjectorKind
    public var projectorActivation: ProjectorActivation
    public var projectorBias: Bool
    /// The reference pads images to a square with the mean colour (`image_aspect_ratio: pad`).
    public var padsImagesToSquare: Bool
    /// Original layout: where the CLIP tower lives (`mm_vision_tower`), as the config names it.
    public var visionTowerName: String?
    /// `mm_hidden_size`: the vision features' width as the projector expects it.
    public var visionHiddenSize: Int?
    /// The template the model was trained with, when its config names one (`conversation_template`,
    /// which `llava train` writes; the reference's checkpoints carry none).
    public var conversationTemplate: String?

    public static let originalImagePlaceholder = -200

    /// A configuration assembled in code (training a new LLaVA from an LLM and a CLIP tower).
    public init(layout: CheckpointLayout, text: LlamaConfiguration, vision: CLIPVisionConfiguration?,
                imageTokenID: Int, visionFeatureLayer: Int = -2, featureSelection: CLIPFeatureSelection = .default,
                projector: ProjectorKind = .mlp(depth: 2), projectorActivation: ProjectorActivation = .gelu,
                projectorBias: Bool = true, padsImagesToSquare: Bool, visionTowerName: String? = nil,
                conversationTemplate: String? = nil) {
        self.layout = layout
        self.text = text
        self.vision = vision
        self.imageTokenID = imageTokenID
        self.visionFeatureLayer = visionFeatureLayer
        self.featureSelection = featureSelection
        self.projector = projector
        self.projectorActivation = projectorActivation
        self.projectorBias = projectorBias
        self.padsImagesToSquare = padsImagesToSquare
        self.visionTowerName = visionTowerName
        visionHiddenSize = vision?.hiddenSize
        self.conversationTemplate = conversationTemplate
    }

    /// Reads a LLaVA `config.json` of either layout.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw LLaVAError.missingFile(url.path) }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw LLaVAError.invalidConfig(file: url.path, key: "", reason: "not a JSON object")
        }
        try self.init(json: json, file: url.path)
    }

    /// Reads a parsed `config.json`. The layout is told by the config's keys, not by its
    /// `model_type`: llava-hf and the reference's own v1/v1.5 checkpoints both say `"llava"`.
    public init(json: [String: Any], file: String) throws {
        switch Self.layout(of: json) {
        case .llavaHF?: try self.init(llavaHF: json, file: file)
        case .original?: try self.init(original: json, file: file)
        case nil: throw LLaVAError.unrecognizedLayout(file: file, found: ConfigFindings(json))
        }
    }

    private init(llavaHF json: [String: Any], file: String) throws {
        let r = Keys(json: json, file: file)
        layout = .llavaHF
        text = try LlamaConfiguration(json: json, file: file)
        guard let visionJSON = json["vision_config"] as? [String: Any] else {
            throw LLaVAError.invalidConfig(file: file, key: "vision_config", reason: "missing or not an object")
        }
        vision = try CLIPVisionConfiguration(json: visionJSON, file: file)
        imageTokenID = try r.int("image_token_index", default: try r.int("image_token_id", default: 32000))
        visionFeatureLayer = try r.featureLayer("vision_feature_layer", default: -2)
        let strategy = try r.string("vision_feature_select_strategy", default: "default")
        guard let s = CLIPFeatureSelection(rawValue: strategy) else {
            throw LLaVAError.invalidConfig(file: file, key: "vision_feature_select_strategy",
                                           reason: "'\(strategy)' is not one of default, full")
        }
        featureSelection = s
        projector = .mlp(depth: 2)
        let act = try r.string("projector_hidden_act", default: "gelu")
        guard let a = ProjectorActivation(rawValue: act) else {
            throw LLaVAError.invalidConfig(file: file, key: "projector_hidden_act",
                                           reason: "'\(act)' is not supported (gelu, quick_gelu, relu, silu)")
        }
        projectorActivation = a
        projectorBias = try r.bool("multimodal_projector_bias", default: true)
        // llava-hf's processor never pads; `llava train` records when a model was trained padded.
        padsImagesToSquare = try r.string("image_aspect_ratio", default: "square") == "pad"
        visionTowerName = nil
        visionHiddenSize = vision?.hiddenSize
        conversationTemplate = json["conversation_template"] as? String
    }

    private init(original json: [String: Any], file: String) throws {
        let r = Keys(json: json, file: file)
        layout = .original
        text = try LlamaConfiguration(json: json, file: file, source: .originalLLaVA)
        vision = nil
        imageTokenID = Self.originalImagePlaceholder
        visionFeatureLayer = try r.featureLayer("mm_vision_select_layer", default: -2)
        let select = try r.string("mm_vision_select_feature", default: "patch")
        switch select {
        case "patch": featureSelection = .default
        case "cls_patch": featureSelection = .full
        default:
            throw LLaVAError.invalidConfig(file: file, key: "mm_vision_select_feature",
                                           reason: "'\(select)' is not one of patch, cls_patch")
        }
        let kind = try r.string("mm_projector_type", default: "linear")
        guard let p = ProjectorKind(name: kind) else {
            throw LLaVAError.invalidConfig(file: file, key: "mm_projector_type",
                                           reason: "'\(kind)' is not linear, identity or mlp{N}x_gelu")
        }
        projector = p
        projectorActivation = .gelu
        projectorBias = true
        let aspect = try r.string("image_aspect_ratio", default: "square")
        guard ["pad", "square", "crop", "resize"].contains(aspect) else {
            throw LLaVAError.invalidConfig(file: file, key: "image_aspect_ratio",
                                           reason: "'\(aspect)' is not supported (pad, square); anyres is LLaVA-NeXT")
        }
        padsImagesToSquare = aspect == "pad"
        if try r.bool("mm_use_im_start_end", default: false) {
            throw LLaVAError.invalidConfig(file: file, key: "mm_use_im_start_end",
                                           reason: "image start/end tokens (LLaVA v0 style) are not supported")
        }
        visionTowerName = json["mm_vision_tower"] as? String ?? json["vision_tower"] as? String
        visionHiddenSize = try r.optionalInt("mm_hidden_size")
        conversationTemplate = json["conversation_template"] as? String
    }
}

/// Typed reads of config keys; errors name the file and key.
struct Keys {
    let json: [String: Any]
    let file: String

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue == n.doubleValue.rounded() else {
            throw LLaVAError.invalidConfig(file: file, key: key, reason: "expected an integer, found \(v)")
        }
        return n.intValue
    }
    func int(_ key: String, default d: Int) throws -> Int { try optionalInt(key) ?? d }

    /// `vision_feature_layer` may be an int or (LLaVA-NeXT style) a list; one layer is supported.
    func featureLayer(_ key: String, default d: Int) throws -> Int {
        if let list = json[key] as? [NSNumber] {
            guard list.count == 1 else {
                throw LLaVAError.invalidConfig(file: file, key: key, reason: "several feature layers \(list) are not supported")
            }
            return list[0].intValue
        }
        return try int(key, default: d)
    }

    func string(_ key: String, default d: String) throws -> String {
        guard let v = json[key], !(v is NSNull) else { return d }
        guard let s = v as? String else { throw LLaVAError.invalidConfig(file: file, key: key, reason: "expected a string, found \(v)") }
        return s
    }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = json[key], !(v is NSNull) else { return d }
        guard let n = v as? NSNumber, String(cString: n.objCType) == "c" else {
            throw LLaVAError.invalidConfig(file: file, key: key, reason: "expected true or false, found \(v)")
        }
        return n.boolValue
    }
}
