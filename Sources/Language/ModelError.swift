import Checkpoint

/// What can go wrong loading or running a model; each case names the file, key or tensor.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case invalidConfig(file: String, key: String, reason: String)
    case missingWeight(name: String, source: String)
    case unexpectedWeights(names: [String], source: String)
    case weightShape(name: String, expected: [Int], found: [Int])
    case unsupportedWeightType(name: String, dtype: String)
    case tokenOutOfRange(id: Int, vocabularySize: Int)
    case contextOverflow(needed: Int, capacity: Int)
    case emptyPrompt

    public var description: String {
        switch self {
        case .missingFile(let path):
            return ErrorText.missingFile(path)
        case .invalidConfig(let file, let key, let reason):
            return ErrorText.invalidConfig(file: file, key: key, reason: reason)
        case .missingWeight(let name, let source):
            return "\(source): missing weight '\(name)'"
        case .unexpectedWeights(let names, let source):
            return ErrorText.unusedWeights(names, source: source, owner: "the model")
        case .weightShape(let name, let expected, let found):
            return "weight '\(name)': expected shape \(expected), found \(found)"
        case .unsupportedWeightType(let name, let dtype):
            return ErrorText.unsupportedWeightType(name: name, dtype: dtype)
        case .tokenOutOfRange(let id, let vocab):
            return "token id \(id) is outside the vocabulary (0..<\(vocab))"
        case .contextOverflow(let needed, let capacity):
            return "sequence of \(needed) tokens exceeds the context capacity of \(capacity)"
        case .emptyPrompt:
            return "the prompt has no tokens"
        }
    }
}
