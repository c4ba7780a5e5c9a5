import ArgumentParser
import Foundation
import Language
import Logging
import Tokenizer

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a continuation of a prompt, streaming it to stdout.")

    @Option(help: "Model directory: config.json, tokenizer.json and safetensors weights.")
    var model: String

    @Option(help: "The prompt text.")
    var prompt: String

    @Option(help: "Conversation template: raw (the prompt is tokenised as given, BOS per the tokenizer config).")
    var convMode: ConversationMode = .raw

    @Option(help: "Stop after this many new tokens.")
    var maxNewTokens = 256

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

    @Flag(help: "Print one JSON object (text, token_ids, prompt_tokens, timings) instead of streaming.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard maxNewTokens >= 0 else { throw ValidationError("--max-new-tokens must be >= 0") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be >= 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0") }
        guard repetitionPenalty > 0 else { throw ValidationError("--repetition-penalty must be > 0") }
    }

    func run() throws {
        try runtime.apply()
        let logger = Logger(label: "llava.generate")
        let loaded = try LoadedModel(directory: model, logger: logger)
        let promptIDs = convMode.tokens(for: prompt, tokenizer: loaded.tokenizer)
        let parameters = GenerationParameters(
            maxNewTokens: maxNewTokens,
            sampling: SamplingParameters(temperature: temperature, topK: topK, topP: topP,
                                         repetitionPenalty: repetitionPenalty, seed: seed),
            stopStrings: stopStrings)
        let generator = TextGenerator(model: loaded.model, tokenizer: loaded.tokenizer)
        let result = try generator.generate(prompt: promptIDs, parameters: parameters) { piece in
            if !json { FileHandle.standardOutput.write(Data(piece.utf8)) }
            return true
        }
        logger.info("prefill \(result.promptTokenCount) tokens at \(Int(result.prefillTokensPerSecond)) tok/s, decode \(result.tokenIDs.count) tokens at \(String(format: "%.1f", result.decodeTokensPerSecond)) tok/s")
        if json {
            print(try GenerateReport(result).jsonString())
        } else {
            print()
        }
    }
}

/// `--conv-mode`: how the prompt text becomes tokens.
enum ConversationMode: String, ExpressibleByArgument, CaseIterable {
    case raw

    func tokens(for prompt: String, tokenizer: Tokenizer) -> [Int] {
        switch self {
        case .raw: return tokenizer.encode(prompt)
        }
    }
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
