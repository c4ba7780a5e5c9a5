import Checkpoint

/// What can go wrong putting a LLaVA model together or feeding it; each case names
/// the file, key or numbers involved.
public enum LLaVAError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case invalidConfig(file: String, key: String, reason: String)
    /// A config meant as LLaVA that fits neither layout (see `LLaVAConfiguration.layout(of:)`).
    case unrecognizedLayout(file: String, found: ConfigFindings)
    case missingVisionTower(name: String?, checkpoint: String)
    /// A tower directory given for a llava-hf checkpoint, whose tower is inside it.
    case unusedVisionTower(tower: String, checkpoint: String)
    case visionWidthMismatch(projectorInput: Int, towerOutput: Int)
    case imageCountMismatch(placeholders: Int, images: Int)
    case imageFeatureCountMismatch(tokens: Int, features: Int)
    case unknownConversationMode(String)
    case modelLacksVision

    public var description: String {
        switch self {
        case .missingFile(let path):
            return ErrorText.missingFile(path)
        case .invalidConfig(let file, let key, let reason):
            return ErrorText.invalidConfig(file: file, key: key, reason: reason)
        case .unrecognizedLayout(let file, let found):
            return "\(file): neither a llava-hf config (text_config, vision_config) nor an original LLaVA config "
                + "(mm_vision_tower, mm_projector_type or mm_hidden_size beside a LLaMA-family config's hidden_size, "
                + "num_hidden_layers); found \(found). Only LLaMA-family decoders (LLaMA, Vicuna, Mistral) are supported"
        case .missingVisionTower(let name, let checkpoint):
            return "\(checkpoint) is an original-layout LLaVA checkpoint whose CLIP tower (\(name ?? "mm_vision_tower unset")) is not inside it: pass its directory with --vision-tower DIR"
        case .unusedVisionTower(let tower, let checkpoint):
            return "--vision-tower \(tower): \(checkpoint) is a llava-hf checkpoint that holds its own vision tower "
                + "(vision_tower.*), so that one would not be used; leave --vision-tower out"
        case .visionWidthMismatch(let p, let t):
            return "the projector expects \(p)-wide vision features but the vision tower gives \(t)"
        case .imageCountMismatch(let placeholders, let images):
            return "the prompt has \(placeholders) <image> placeholder(s) but \(images) image(s) were given"
        case .imageFeatureCountMismatch(let tokens, let features):
            return "image tokens (\(tokens)) do not match image features (\(features))"
        case .unknownConversationMode(let name):
            return "unknown conversation mode '\(name)' (known: \(ConversationTemplate.names.joined(separator: ", ")), auto, raw)"
        case .modelLacksVision:
            return "this model has no vision tower; it cannot take images"
        }
    }
}
