import Checkpoint

/// What can go wrong configuring, loading or running the CLIP vision tower.
/// Every case names the file, key, tensor or number that is wrong.
public enum CLIPVisionError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    /// A config value of the wrong type or out of range.
    case invalidConfig(file: String, key: String, reason: String)
    /// No known CLIP tensor-name prefix in the checkpoint.
    case noVisionTower(source: String, looked: [String])
    /// Tensors the tower did not take and no rule skips.
    case unexpectedWeights(names: [String], source: String)
    case unsupportedWeightType(name: String, dtype: String)
    /// `featureLayer` outside HF's hidden-state range -(L+1)...L.
    case featureLayerOutOfRange(value: Int, layerCount: Int)
    /// One image's pixel values must be channels × imageSize².
    case pixelCountMismatch(expected: Int, found: Int, channels: Int, imageSize: Int)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return ErrorText.missingFile(path)
        case .invalidConfig(let file, let key, let reason):
            return ErrorText.invalidConfig(file: file, key: key, reason: reason)
        case .noVisionTower(let source, let looked):
            return "\(source): no CLIP vision tower (looked for \(looked.map { "'\($0)'" }.joined(separator: ", ")))"
        case .unexpectedWeights(let names, let source):
            return ErrorText.unusedWeights(names, source: source, owner: "the CLIP vision tower")
        case .unsupportedWeightType(let name, let dtype):
            return ErrorText.unsupportedWeightType(name: name, dtype: dtype)
        case .featureLayerOutOfRange(let value, let layers):
            return "feature layer \(value) is out of range for \(layers) layers (valid: -\(layers + 1)...\(layers))"
        case .pixelCountMismatch(let expected, let found, let channels, let size):
            return "pixel values: expected \(expected) floats (\(channels)×\(size)×\(size)), found \(found)"
        }
    }
}
