import Checkpoint
import Foundation
import JSONText
import Tokenizer

/// A model's tokenizer files, copied into an exported model with `<image>` added when missing.
///
/// The JSON is edited as text, not re-serialised: a round trip through a dictionary would merge
/// vocabulary entries that differ only in Unicode normalisation and reorder everything.
struct TokenizerFiles {
    var tokenizerJSON: String
    var configJSON: String?
    let source: URL

    init(directory: URL) throws {
        source = directory
        let t = directory.appendingPathComponent("tokenizer.json")
        guard let data = FileManager.default.contents(atPath: t.path) else { throw TrainingError.missingFile(t.path) }
        tokenizerJSON = String(decoding: data, as: UTF8.self)
        configJSON = FileManager.default.contents(atPath: directory.appendingPathComponent("tokenizer_config.json").path)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// The id of `token`, adding it as a special added token (id = vocabulary size) if absent.
    mutating func ensureToken(_ token: String) throws -> Int {
        let tokenizer = try Tokenizer(tokenizerJSON: Data(tokenizerJSON.utf8), configJSON: configJSON.map { Data($0.utf8) },
                                      source: source.path)
        if let id = tokenizer.id(of: token) { return id }
        let id = tokenizer.vocabularySize
        let entry = "{\"id\": \(id), \"content\": \(jsonString(token)), \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        guard let r = tokenizerJSON.range(of: "\"added_tokens\"") ,
              let open = tokenizerJSON[r.upperBound...].firstIndex(of: "[") else {
            throw TrainingError.invalidArgument("\(source.path)/tokenizer.json: no added_tokens list to add \(token) to")
        }
        let rest = tokenizerJSON[tokenizerJSON.index(after: open)...]
        let empty = rest.drop(while: { $0.isWhitespace }).first == "]"
        tokenizerJSON.insert(contentsOf: entry + (empty ? "" : ","), at: tokenizerJSON.index(after: open))
        if var config = configJSON, let r = config.range(of: "\"added_tokens_decoder\""),
           let brace = config[r.upperBound...].firstIndex(of: "{") {
            let decoderEntry = "\"\(id)\": {\"content\": \(jsonString(token)), \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true}"
            let after = config[config.index(after: brace)...]
            let emptyMap = after.drop(while: { $0.isWhitespace }).first == "}"
            config.insert(contentsOf: decoderEntry + (emptyMap ? "" : ","), at: config.index(after: brace))
            configJSON = config
        }
        // The edited file must still load and give the token its id.
        let check = try Tokenizer(tokenizerJSON: Data(tokenizerJSON.utf8), configJSON: configJSON.map { Data($0.utf8) },
                                  source: source.path)
        guard check.id(of: token) == id else {
            throw TrainingError.invalidArgument("\(source.path): adding \(token) to the tokenizer failed")
        }
        return id
    }

    func write(to directory: URL) throws {
        try AtomicFile.write(Data(tokenizerJSON.utf8), to: directory.appendingPathComponent("tokenizer.json"))
        if let configJSON {
            try AtomicFile.write(Data(configJSON.utf8), to: directory.appendingPathComponent("tokenizer_config.json"))
        }
    }
}
