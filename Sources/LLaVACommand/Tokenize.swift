import ArgumentParser
import Checkpoint
import Foundation
import Tokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids (and pieces) a model would see for a text.")

    @Option(help: "Model (or tokenizer) directory holding tokenizer.json, or a GGUF model (its tokenizer.ggml.* metadata).")
    var model: String

    @Option(help: "The text to tokenise.")
    var text: String

    @Flag(help: "Leave out BOS/EOS even if the tokenizer config adds them.")
    var noSpecialTokens = false

    @Flag(help: "Print JSON: {\"ids\": […], \"tokens\": […]}.")
    var json = false

    func run() throws {
        let tokenizer = try GGUFModelFiles(path: model, mmproj: nil).map { try Tokenizer(gguf: GGUFFile(url: $0.model)) }
            ?? Tokenizer(directory: URL(fileURLWithPath: model))
        let ids = tokenizer.encode(text, addSpecialTokens: !noSpecialTokens)
        let pieces = tokenizer.tokens(for: ids)
        if json {
            struct Output: Encodable { let ids: [Int]; let tokens: [String] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(Output(ids: ids, tokens: pieces)), as: UTF8.self))
        } else {
            for (id, piece) in zip(ids, pieces) {
                print("\(id)\t\(piece.debugDescription)")
            }
        }
    }
}
