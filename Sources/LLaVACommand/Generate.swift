import ArgumentParser
import Checkpoint
import Foundation
import LLaVA
import Language
import Logging
import Tensor
import Tokenizer
import Vision

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a prompt (about images, if given), streaming the text to stdout.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("image"), help: "An image file (PNG or JPEG); repeat for several.")
    var images: [String] = []

    @Option(help: "The prompt text. With --conv-mode raw, <image> marks where each image goes.")
    var prompt: String

    @OptionGroup var sampling: SamplingOptions

    @Flag(help: "Print one JSON object (text, token_ids, prompt_tokens, timings) instead of streaming.")
    var json = false

    @Option(help: "Write the prompt's last-position logits to this safetensors file (tensor 'logits').")
    var logitsOut: String?

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let logger = Logger(label: "llava.generate")
        let loaded = try LoadedModel(directory: try modelOptions.modelDirectory(), visionTower: modelOptions.visionTower, mmproj: modelOptions.mmproj, logger: logger)
        let pictures = try images.map { try modelOptions.decodeImage($0) }
        let (text, stop) = try renderPrompt(prompt, imageCount: pictures.count, model: loaded, convMode: modelOptions.convMode)
        logger.debug("prompt: \(text.debugDescription)")
        var parameters = sampling.parameters
        if let stop { parameters.stopStrings.append(stop) }
        parameters.keepPrefillLogits = logitsOut != nil
        let stream: (String) -> Bool = { piece in
            if !json { FileHandle.standardOutput.write(Data(piece.utf8)) }
            return true
        }
        let result: GenerationResult
        switch loaded {
        case .llava(let model):
            result = try model.generate(prompt: text, images: pictures, parameters: parameters,
                                        aspect: modelOptions.imageAspect.mode, onText: stream)
        case .text(let model, let tokenizer):
            guard pictures.isEmpty else { throw LLaVAError.modelLacksVision }
            result = try TextGenerator(model: model, tokenizer: tokenizer)
                .generate(prompt: tokenizer.encode(text), parameters: parameters, onText: stream)
        }
        if let logitsOut, let logits = result.prefillLogits {
            try SafeTensorsWriter.write([("logits", Tensor(logits, shape: [logits.count]))], metadata: nil,
                                        to: URL(fileURLWithPath: logitsOut))
        }
        logger.info("prefill \(result.promptTokenCount) positions at \(Int(result.prefillTokensPerSecond)) tok/s, decode \(result.tokenIDs.count) tokens at \(String(format: "%.1f", result.decodeTokensPerSecond)) tok/s")
        if json {
            print(try GenerateReport(result).jsonString())
        } else {
            print()
        }
    }
}

/// The prompt text the model sees for a user message, and the template's stop string.
/// `auto` picks the template as the reference CLI does for a LLaVA model, and `raw` for a bare LLM.
func renderPrompt(_ message: String, imageCount: Int, model: LoadedModel, convMode: String) throws -> (String, String?) {
    let template: ConversationTemplate
    switch (convMode, model) {
    case ("raw", _), ("auto", .text):
        return (message, nil)
    case ("auto", .llava(let m)):
        template = .automatic(for: m)
    default:
        template = try ConversationTemplate.named(convMode)
    }
    var conversation = Conversation(template: template)
    conversation.append(user: PromptEncoder.placingImages(imageCount, before: message))
    return (conversation.prompt, template.stopString)
}

/// The `--json` output of `llava generate`.
struct GenerateReport: Encodable {
    struct Timings: Encodable {
        let prefill_seconds: Double
        let decode_seconds: Double
        let prefill_tokens_per_second: Double
        let decode_tokens_per_second: Double
    }
    let text: String
    let token_ids: [Int]
    let prompt_tokens: Int
    let finish_reason: String
    let timings: Timings

    init(_ r: GenerationResult) {
        text = r.text
        token_ids = r.tokenIDs
        prompt_tokens = r.promptTokenCount
        finish_reason = r.finishReason.rawValue
        timings = Timings(prefill_seconds: r.prefillSeconds, decode_seconds: r.decodeSeconds,
                          prefill_tokens_per_second: r.prefillTokensPerSecond,
                          decode_tokens_per_second: r.decodeTokensPerSecond)
    }

    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
