import ArgumentParser
import Foundation
import Language
import Tensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prefill and decode speed, like llama-bench.",
        discussion: """
        With --preset, random weights of a real model's shape are built in memory (no download).
        Figures are min/median over the repetitions.
        """)

    @Option(help: "Model directory to benchmark.")
    var model: String?

    @Option(help: "Shape preset: \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: ModelPreset?

    @Option(help: "Weight type for a preset: f32, f16 or bf16.")
    var weights: WeightType = .f16

    @Option(help: "Prompt tokens to prefill.")
    var promptTokens = 512

    @Option(help: "Tokens to decode after the prompt.")
    var genTokens = 128

    @Option(help: "Repetitions (min and median reported).")
    var repetitions = 3

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (model == nil) != (preset == nil) else { throw ValidationError("give exactly one of --model and --preset") }
        guard promptTokens > 0, genTokens > 0, repetitions > 0 else {
            throw ValidationError("--prompt-tokens, --gen-tokens and --repetitions must be positive")
        }
    }

    func run() throws {
        try runtime.apply()
        let llm: LlamaModel
        let name: String
        if let model {
            llm = try LlamaModel(directory: URL(fileURLWithPath: model))
            name = URL(fileURLWithPath: model).lastPathComponent
        } else {
            let preset = preset!
            FileHandle.standardError.write(Data("building random \(preset.rawValue) weights (\(weights.rawValue))…\n".utf8))
            llm = LlamaModel.random(config: preset.configuration, dtype: weights.dtype, seed: 1)
            name = preset.rawValue
        }
        let c = llm.config
        guard promptTokens + genTokens <= c.maxPositionEmbeddings else {
            throw ValidationError("--prompt-tokens + --gen-tokens exceeds the model's \(c.maxPositionEmbeddings) positions")
        }
        var prefill: [Double] = [], decode: [Double] = []
        let clock = ContinuousClock()
        for r in 0..<repetitions {
            let cache = llm.makeCache(capacity: promptTokens + genTokens)
            let prompt = (0..<promptTokens).map { ($0 * 7919 + r) % c.vocabularySize }
            let t0 = clock.now
            _ = try llm.forward(tokens: prompt, cache: cache)
            prefill.append(Double(promptTokens) / seconds(clock.now - t0))
            let t1 = clock.now
            for i in 0..<genTokens { _ = try llm.forward(tokens: [(i * 31) % c.vocabularySize], cache: cache) }
            decode.append(Double(genTokens) / seconds(clock.now - t1))
            FileHandle.standardError.write(Data(String(format: "rep %d: prefill %.1f tok/s, decode %.2f tok/s\n", r + 1, prefill.last!, decode.last!).utf8))
        }
        let report = BenchReport(model: name, weights: model == nil ? weights.rawValue : "checkpoint",
                                 threads: Compute.threads, prompt_tokens: promptTokens, gen_tokens: genTokens,
                                 prefill_tokens_per_second: .init(prefill), decode_tokens_per_second: .init(decode),
                                 peak_resident_mb: Double(peakResidentBytes()) / 1_048_576)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            print(String(decoding: try e.encode(report), as: UTF8.self))
        } else {
            print(report.table)
        }
    }
}

struct BenchReport: Encodable {
    struct Stat: Encodable {
        let min: Double, median: Double
        init(_ values: [Double]) {
            let s = values.sorted()
            min = s.first ?? 0
            median = s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
        }
    }
    let model: String, weights: String, threads: Int, prompt_tokens: Int, gen_tokens: Int
    let prefill_tokens_per_second: Stat, decode_tokens_per_second: Stat
    let peak_resident_mb: Double

    var table: String {
        """
        | model | weights | threads | test | min t/s | median t/s |
        |---|---|---|---|---|---|
        | \(model) | \(weights) | \(threads) | pp\(prompt_tokens) | \(String(format: "%.2f", prefill_tokens_per_second.min)) | \(String(format: "%.2f", prefill_tokens_per_second.median)) |
        | \(model) | \(weights) | \(threads) | tg\(gen_tokens) | \(String(format: "%.2f", decode_tokens_per_second.min)) | \(String(format: "%.2f", decode_tokens_per_second.median)) |
        peak resident memory: \(String(format: "%.0f", peak_resident_mb)) MB
        """
    }
}

enum WeightType: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16
    var dtype: DType { switch self { case .f32: .f32; case .f16: .f16; case .bf16: .bf16 } }
}

/// Shapes of real models, for benchmarking without their weights.
enum ModelPreset: String, ExpressibleByArgument, CaseIterable {
    case llama7b = "llama-7b", llama13b = "llama-13b", tiny

    var configuration: LlamaConfiguration {
        switch self {
        case .llama7b:  // Vicuna-7B, the LLM of LLaVA-1.5-7B
            return LlamaConfiguration(vocabularySize: 32064, hiddenSize: 4096, intermediateSize: 11008,
                                      layerCount: 32, headCount: 32, rmsNormEps: 1e-5)
        case .llama13b:
            return LlamaConfiguration(vocabularySize: 32064, hiddenSize: 5120, intermediateSize: 13824,
                                      layerCount: 40, headCount: 40, rmsNormEps: 1e-5)
        case .tiny:
            return LlamaConfiguration(vocabularySize: 1000, hiddenSize: 256, intermediateSize: 688,
                                      layerCount: 4, headCount: 8, kvHeadCount: 4, rmsNormEps: 1e-5)
        }
    }
}

/// Peak resident set size of this process (VmHWM), in bytes.
func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) } ?? 0
        return kb * 1024
    }
    return 0
}
