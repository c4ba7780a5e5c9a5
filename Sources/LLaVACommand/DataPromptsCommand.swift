import ArgumentParser
import DataGeneration
import Foundation

/// `llava data prompts`: the built-in teacher prompts as files, to edit and pass to `--prompts`.
struct DataPrompts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts",
        abstract: "Write a built-in prompt set (system messages, few-shot examples, detail requests) to a folder.")

    @Option(help: "coco (photographs) or shapes (the synthetic world).") var set: String = "coco"
    @Option(help: "Folder to write (conversation/, detail/, complex/).") var out: String

    func run() throws {
        guard let builtIn = BuiltInPrompts(rawValue: set) else {
            throw ValidationError("--set must be one of \(BuiltInPrompts.allCases.map(\.rawValue).joined(separator: ", ")), got '\(set)'")
        }
        try builtIn.load().write(to: URL(fileURLWithPath: out))
        printErr("wrote the \(set) prompts to \(out)")
    }
}
