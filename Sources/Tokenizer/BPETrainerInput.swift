import Foundation

/// Training documents read from files, for `BPETrainer`.
///
/// - `.json` (e.g. LLaVA conversation or caption files): every string value, recursively,
///   objects in key order so the result does not depend on hashing; keys are left out.
/// - anything else: one document per line ("\n" or "\r\n"); empty lines are skipped.
///
/// ```swift
/// let texts = try BPETrainingText.documents(in: URL(fileURLWithPath: "llava_instruct.json"))
/// ```
public enum BPETrainingText {
    public static func documents(in file: URL) throws -> [String] {
        let data = try Data(contentsOf: file)
        if file.pathExtension.lowercased() == "json" {
            let root: Any
            do {
                root = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            } catch {
                throw TokenizerError.invalidJSON(file: file.path, key: "", reason: "\(error)")
            }
            var texts: [String] = []
            collectStrings(root, into: &texts)
            return texts.filter { !$0.isEmpty }
        }
        return lines(String(decoding: data, as: UTF8.self))
    }

    /// Lines of `text`, split on the "\n" scalar (a Swift `Character` would see "\r\n" as one).
    public static func lines(_ text: String) -> [String] {
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: true).compactMap { line in
            var scalars = String.UnicodeScalarView(line)
            if scalars.last == "\r" { scalars.removeLast() }
            return scalars.isEmpty ? nil : String(scalars)
        }
    }

    private static func collectStrings(_ value: Any, into texts: inout [String]) {
        switch value {
        case let text as String:
            texts.append(text)
        case let array as [Any]:
            for element in array { collectStrings(element, into: &texts) }
        case let object as [String: Any]:
            for key in object.keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }) {
                collectStrings(object[key]!, into: &texts)
            }
        default:
            break   // numbers, booleans, null
        }
    }
}
