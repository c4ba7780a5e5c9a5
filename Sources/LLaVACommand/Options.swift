import ArgumentParser
import Foundation
import Vision
import LLaVA
import Language

/// Sampling and stopping flags shared by `generate` and `chat`.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Stop after this many new tokens.")
    var maxNewTokens = 512

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(help: "Nucleus sampling: keep the smallest set of tokens with this much probability.")
    var topP: Float = 1

    @Option(help: "Keep only the K most likely tokens (0: all).")
    var topK = 0

    @Option(help: "Penalise tokens already in the sequence (1: off).")
    var repetitionPenalty: Float = 1

    @Option(help: "Random seed for sampling.")
    var seed: UInt64?

    @Option(name: .customLong("stop"), help: "Stop when the text contains this string (repeatable).")
    var stopStrings: [String] = []

    func validate() throws {
        guard maxNewTokens >= 0 else { throw ValidationError("--max-new-tokens must be >= 0") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be >= 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0") }
        guard repetitionPenalty > 0 else { throw ValidationError("--repetition-penalty must be > 0") }
    }

    var parameters: GenerationParameters {
        GenerationParameters(maxNewTokens: maxNewTokens,
                             sampling: SamplingParameters(temperature: temperature, topK: topK, topP: topP,
                                                          repetitionPenalty: repetitionPenalty, seed: seed),
                             stopStrings: stopStrings)
    }
}

/// Model location flags shared by the model-running commands.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model: a llava-hf or original LLaVA checkpoint directory, a bare LLaMA-family LLM, or a GGUF file (or a folder of GGUF files) with --mmproj (default: the built-in model).")
    var model: String?

    /// The model to load: the one named, or the built-in default model.
    func modelDirectory() throws -> String {
        if let model { return model }
        guard let builtIn = DefaultModel.directory else {
            throw ValidationError("no --model given, and this build has no built-in model")
        }
        return builtIn.path
    }

    @Option(help: "CLIP tower directory, for original-layout LLaVA checkpoints (mm_vision_tower).")
    var visionTower: String?

    @Option(help: "llama.cpp's CLIP + projector GGUF (mmproj), for a GGUF --model.")
    var mmproj: String?

    @Option(help: "Conversation template: auto, raw, or one of \(ConversationTemplate.names.joined(separator: ", ")).")
    var convMode = "auto"

    @Option(help: "How images are fitted to the tower: auto (the checkpoint's own way), pad, crop.")
    var imageAspect: ImageAspect = .auto

    @Option(help: "Refuse images whose header declares more than this many megapixels (before decoding).")
    var maxImageMegapixels: Double = 64

    /// Decodes an image file under the size limit.
    func decodeImage(_ path: String) throws -> RGBImage {
        try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path),
                                options: ImageDecodingOptions(maxPixels: Int(maxImageMegapixels * 1_000_000)))
    }

    func validate() throws {
        guard maxImageMegapixels > 0 else { throw ValidationError("--max-image-megapixels must be positive") }
        if convMode != "auto" && convMode != "raw" && ConversationTemplate.all[convMode] == nil {
            throw ValidationError("--conv-mode '\(convMode)' is unknown (auto, raw, \(ConversationTemplate.names.joined(separator: ", ")))")
        }
    }
}

enum ImageAspect: String, ExpressibleByArgument, CaseIterable {
    case auto, pad, crop
    var mode: ImageAspectMode { ImageAspectMode(rawValue: rawValue)! }
}
