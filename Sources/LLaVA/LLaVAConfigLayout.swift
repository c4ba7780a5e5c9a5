import Foundation

// Telling the two checkpoint layouts apart. Both may say `"model_type": "llava"`: llava-hf,
// and the reference's own v1, v1.5 and LLaMA-2 checkpoints (its `LlavaConfig` was registered
// under that name before it became `llava_llama`). So the keys decide, never model_type.

extension LLaVAConfiguration {
    /// Keys only a llava-hf config has: the two towers' nested configs.
    static let llavaHFKeys = ["text_config", "vision_config"]
    /// Keys the reference's `LlavaMetaModel` writes into the LLM's config.
    static let originalKeys = ["mm_vision_tower", "mm_projector_type", "mm_hidden_size"]
    /// The decoder keys an original-layout config carries at its top level (a LLaMA config's).
    static let flatDecoderKeys = ["hidden_size", "num_hidden_layers"]

    /// The layout a parsed `config.json` is written in: llava-hf when it nests `text_config` /
    /// `vision_config`; original when it has an `mm_*` key beside a flat LLaMA config; else nil.
    ///
    /// ```swift
    /// LLaVAConfiguration.layout(of: ["model_type": "llava", "mm_vision_tower": "openai/clip-vit-large-patch14-336",
    ///                                "hidden_size": 4096, "num_hidden_layers": 32])   // .original
    /// ```
    public static func layout(of json: [String: Any]) -> CheckpointLayout? {
        if llavaHFKeys.contains(where: { json[$0] is [String: Any] }) { return .llavaHF }
        if originalKeys.contains(where: { isSet(json[$0]) }) && flatDecoderKeys.allSatisfy({ isSet(json[$0]) }) {
            return .original
        }
        return nil
    }

    /// Whether a parsed `config.json` is meant as a LLaVA model rather than a bare LLM: it fits
    /// a layout, has an `mm_*` key, or says so in `model_type` (`llava…`) or `architectures`
    /// (`Llava…`). `init(json:file:)` reads every such config or refuses it with
    /// ``LLaVAError/unrecognizedLayout(file:found:)``; anything else is a bare LLM.
    public static func describesLLaVA(_ json: [String: Any]) -> Bool {
        let found = ConfigFindings(json)
        return layout(of: json) != nil || originalKeys.contains(where: { isSet(json[$0]) })
            || found.modelType?.hasPrefix("llava") == true || found.architectures.contains { $0.hasPrefix("Llava") }
    }

    static func isSet(_ value: Any?) -> Bool { value != nil && !(value is NSNull) }
}

/// What a config holds that tells its layout: named in the error when it fits neither.
public struct ConfigFindings: Sendable, Equatable, CustomStringConvertible {
    public var modelType: String?
    public var architectures: [String]
    /// The layout-telling keys present, in the order llava-hf, original, flat decoder.
    public var keys: [String]

    public init(_ json: [String: Any]) {
        modelType = json["model_type"] as? String
        architectures = json["architectures"] as? [String] ?? []
        let telling = LLaVAConfiguration.llavaHFKeys + LLaVAConfiguration.originalKeys + LLaVAConfiguration.flatDecoderKeys
        keys = telling.filter { LLaVAConfiguration.isSet(json[$0]) }
    }

    public var description: String {
        let type = modelType.map { "model_type '\($0)'" } ?? "no model_type"
        let arch = architectures.isEmpty ? "no architectures" : "architectures \(architectures.joined(separator: ", "))"
        let keys = self.keys.isEmpty ? "none of those keys" : "keys \(self.keys.joined(separator: ", "))"
        return "\(type), \(arch), \(keys)"
    }
}
