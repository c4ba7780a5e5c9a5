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
            return "\(path): file not found"
        case .invalidConfig(let file, let key, let reason):
            return key.isEmpty ? "\(file): \(reason)" : "\(file): key '\(key)': \(reason)"
        case .noVisionTower(let source, let looked):
            return "\(source): no CLIP vision tower (looked for \(looked.map { "'\($0)'" }.joined(separator: ", ")))"
        case .unexpectedWeights(let names, let source):
            let shown = names.prefix(5).joined(separator: ", ")
            return "\(source): \(names.count) weight(s) not used by the CLIP vision tower: \(shown)\(names.count > 5 ? ", …" : "")"
        case .unsupportedWeightType(let name, let dtype):
            return "weight '\(name)': dtype \(dtype) is not supported (F32, F16, BF16)"
        case .featureLayerOutOfRange(let value, let layers):
            return "feature layer \(value) is out of range for \(layers) layers (valid: -\(layers + 1)...\(layers))"
        case .pixelCountMismatch(let expected, let found, let channels, let size):
            return "pixel values: expected \(expected) floats (\(channels)×\(size)×\(size)), found \(found)"
        }
    }
}
