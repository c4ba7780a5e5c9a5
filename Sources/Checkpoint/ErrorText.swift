/// The wording shared by the model modules' error types (`ModelError`, `CLIPVisionError`,
/// `LLaVAError`), so that a missing file, a bad config key or an unused tensor reads the same
/// whichever part of the model reports it.
///
/// ```swift
/// ErrorText.invalidConfig(file: "config.json", key: "hidden_size", reason: "expected a positive integer, found -1")
/// // "config.json: key 'hidden_size': expected a positive integer, found -1"
/// ```
public enum ErrorText {
    /// `"<path>: file not found"`.
    public static func missingFile(_ path: String) -> String { "\(path): file not found" }

    /// `"<file>: key '<key>': <reason>"`, or `"<file>: <reason>"` when the key is empty.
    public static func invalidConfig(file: String, key: String, reason: String) -> String {
        key.isEmpty ? "\(file): \(reason)" : "\(file): key '\(key)': \(reason)"
    }

    /// A weight stored in a dtype the model cannot compute with.
    public static func unsupportedWeightType(name: String, dtype: String) -> String {
        "weight '\(name)': dtype \(dtype) is not supported (F32, F16, BF16)"
    }

    /// Tensors of `source` that `owner` ("the model", "the CLIP vision tower") did not take;
    /// the first five are named.
    public static func unusedWeights(_ names: [String], source: String, owner: String) -> String {
        let shown = names.prefix(5).joined(separator: ", ")
        return "\(source): \(names.count) weight(s) not used by \(owner): \(shown)\(names.count > 5 ? ", …" : "")"
    }
}
