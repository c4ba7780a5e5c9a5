import ArgumentParser
import Foundation
import LLaVA
import Language
import Logging
import Vision

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk with a LLaVA model about images, turn by turn, with streamed answers.",
        discussion: """
        Type a message and press return. Commands: /image PATH attaches an image to your next
        message, /reset starts a new conversation, /exit (or end of input) quits. Each image is
        encoded once; the KV cache carries across turns.
        """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("image"), help: "An image for the first message.")
    var image: String?

    @OptionGroup var sampling: SamplingOptions

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let logger = Logger(label: "llava.chat")
        guard case .llava(let model) = try LoadedModel(directory: try modelOptions.modelDirectory(), visionTower: modelOptions.visionTower, mmproj: modelOptions.mmproj,
                                                       logger: logger) else {
            throw ValidationError("\(try modelOptions.modelDirectory()) is a text-only model; `llava chat` needs a LLaVA checkpoint")
        }
        let template: ConversationTemplate? = modelOptions.convMode == "auto" ? nil : try ConversationTemplate.named(modelOptions.convMode)
        let session = ChatSession(model: model, template: template, parameters: sampling.parameters,
                                  aspect: modelOptions.imageAspect.mode)
        var pending: [RGBImage] = []
        if let image { pending.append(try modelOptions.decodeImage(image)) }
        printErr("chat with \(model.name) (template \(session.template.name)); /image PATH, /reset, /exit")
        while true {
            FileHandle.standardOutput.write(Data("\(session.template.roles.user.isEmpty ? ">" : session.template.roles.user + ":") ".utf8))
            guard let line = readLine() else { print(); break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/exit" || input == "/quit" { break }
            if input == "/reset" {
                session.reset()
                pending = []
                printErr("(conversation reset)")
                continue
            }
            if input.hasPrefix("/image") {
                let path = input.dropFirst("/image".count).trimmingCharacters(in: .whitespaces)
                do {
                    pending.append(try modelOptions.decodeImage(path))
                    printErr("(image attached to your next message)")
                } catch {
                    printErr("error: \(error)")
                }
                continue
            }
            FileHandle.standardOutput.write(Data("\(session.template.roles.assistant): ".utf8))
            do {
                let result = try session.respond(input, images: pending) { piece in
                    FileHandle.standardOutput.write(Data(piece.utf8))
                    return true
                }
                pending = []
                print()
                logger.info("\(result.tokenIDs.count) tokens at \(String(format: "%.1f", result.decodeTokensPerSecond)) tok/s")
            } catch {
                print()
                printErr("error: \(error)")
            }
        }
    }
}

func printErr(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
