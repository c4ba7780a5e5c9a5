import ArgumentParser
import Foundation
import LLaVA
import Language
import Logging
import Tensor
import Vision

/// `llava bench`: the model's own speed (the default), or a server's under load (`bench serve`).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's speed, like llama-bench, a server's under load (bench serve), or training (bench train).",
        subcommands: [BenchModel.self, BenchServe.self, TrainBench.self],
        defaultSubcommand: BenchModel.self)
}

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Measure prefill and decode speed, like llama-bench (the default: `llava bench --preset …`).",
        discussion: """
        With --preset, random weights of a real model's shape are built in memory (no download).
        Figures are min/median over the repetitions. As in llama-bench, the prefill and the decode
        are separate tests, each starting from a cache holding --depth tokens (0: empty), after
        one untimed warm-up; `llava bench … --depth 512` compares with `llama-bench -d 512`.
        """)

    @Option(help: "Model directory to benchmark (LLaVA or a bare LLM).")
    var model: String?

    @Option(help: "CLIP tower directory, for an original-layout LLaVA --model.")
    var visionTower: String?

    @Option(help: "Shape preset: \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: ModelPreset?

    @Option(help: "Weight type for a preset's language model: \(PresetWeights.list) (quantised: vision stays f16).")
    var weights: PresetWeights = .f16

    @Option(help: "Prompt tokens to prefill.")
    var promptTokens = 512

    @Option(help: "Tokens to decode, one at a time.")
    var genTokens = 128

    @Option(help: "Tokens already in the cache when each test starts (llama-bench's -d).")
    var depth = 0

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
        guard depth >= 0 else { throw ValidationError("--depth must not be negative") }
    }

    func run() throws {
        try runtime.apply()
        let subject = try makeSubject()
        let c = subject.language.config
        guard depth + max(promptTokens, genTokens) <= c.maxPositionEmbeddings else {
            throw ValidationError("--depth + --prompt-tokens (or --gen-tokens) exceeds the model's \(c.maxPositionEmbeddings) positions")
        }
        let language = subject.language
        /// A cache holding `depth` tokens, filled untimed.
        func cacheAtDepth(room: Int, seed: Int) throws -> KVCache {
            let cache = language.makeCache(capacity: depth + room)
            if depth > 0 { _ = try language.forward(tokens: (0..<depth).map { ($0 * 4099 + seed) % c.vocabularySize }, cache: cache) }
            return cache
        }
        // Warm-up, as llama-bench's: pages the weights in. Each cache (and its scratch) is
        // released before the next test's, so peak memory is one test's.
        do {
            let warm = try cacheAtDepth(room: promptTokens + 1, seed: 0)
            _ = try language.forward(tokens: (0..<promptTokens).map { ($0 * 7919) % c.vocabularySize }, cache: warm)
            _ = try language.forward(tokens: [1], cache: warm)
        }
        var encode: [Double] = [], prefill: [Double] = [], decode: [Double] = []
        let clock = ContinuousClock()
        for r in 0..<repetitions {
            if let vision = subject.vision {
                let t0 = clock.now
                _ = try vision(r)
                encode.append(seconds(clock.now - t0) * 1000)
            }
            do {
                let cache = try cacheAtDepth(room: promptTokens, seed: r)
                let prompt = (0..<promptTokens).map { ($0 * 7919 + r) % c.vocabularySize }
                let t0 = clock.now
                _ = try language.forward(tokens: prompt, cache: cache)
                prefill.append(Double(promptTokens) / seconds(clock.now - t0))
            }
            do {
                let cache = try cacheAtDepth(room: genTokens, seed: r)
                let t0 = clock.now
                for i in 0..<genTokens { _ = try language.forward(tokens: [(i * 31 + r) % c.vocabularySize], cache: cache) }
                decode.append(Double(genTokens) / seconds(clock.now - t0))
            }
            printErr(String(format: "rep %d:%@ prefill %.1f tok/s, decode %.2f tok/s", r + 1,
                            encode.last.map { String(format: " image encode %.0f ms,", $0) } ?? "", prefill.last!, decode.last!))
        }
        let report = BenchReport(model: subject.name, weights: model == nil ? weights.rawValue : "checkpoint",
                                 threads: Compute.threads, prompt_tokens: promptTokens, gen_tokens: genTokens, depth: depth,
                                 image_encode_ms: encode.isEmpty ? nil : .init(encode),
                                 prefill_tokens_per_second: .init(prefill), decode_tokens_per_second: .init(decode),
                                 peak_resident_mb: Double(peakResidentBytes()) / 1_048_576)
        try report.print(json: json)
    }

    /// What is measured: the decoder, and for LLaVA models the image path (tower + projector).
    struct Subject {
        let name: String
        let language: LlamaModel
        let vision: ((Int) throws -> [Float])?
    }

    private func makeSubject() throws -> Subject {
        if let model {
            let loaded = try LoadedModel(directory: model, visionTower: visionTower, logger: Logger(label: "llava.bench"))
            let name = URL(fileURLWithPath: model).lastPathComponent
            guard case .llava(let m) = loaded else { return Subject(name: name, language: loaded.language, vision: nil) }
            let size = m.vision.config.channelCount * m.vision.config.imageSize * m.vision.config.imageSize
            return Subject(name: name, language: m.language, vision: { r in
                try m.project(pixelValues: randomPixels(size, seed: UInt64(r)))
            })
        }
        let preset = preset!
        printErr("building random \(preset.rawValue) weights (\(weights.rawValue))…")
        let language = LlamaModel.random(config: preset.text, weights: weights, seed: 1)
        guard let visionConfig = preset.vision else { return Subject(name: preset.rawValue, language: language, vision: nil) }
        let tower = CLIPVisionModel.random(config: visionConfig, dtype: weights.vision, seed: 2)
        let v = visionConfig.hiddenSize
        let projector = preset.randomProjector(visionWidth: v, dtype: weights.vision)
        let size = visionConfig.channelCount * visionConfig.imageSize * visionConfig.imageSize
        return Subject(name: preset.rawValue, language: language, vision: { r in
            let features = try tower.features(pixelValues: randomPixels(size, seed: UInt64(r)), featureLayer: -2, selection: .default)
            return projector.forward(features, rows: features.count / v)
        })
    }
}

/// Normalised-pixel-like values in (-2, 2).
private func randomPixels(_ n: Int, seed: UInt64) -> [Float] {
    Tensor.uniform([n], dtype: .f32, seed: seed, scale: 2).toFloatArray()
}

/// A benchmark's result, printed as a Markdown table or as JSON.
protocol BenchTable: Encodable {
    var table: String { get }
}

extension BenchTable {
    func print(json: Bool) throws {
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            Swift.print(String(decoding: try e.encode(self), as: UTF8.self))
        } else {
            Swift.print(table)
        }
    }
}

struct BenchReport: BenchTable {
    struct Stat: Encodable {
        let min: Double, median: Double
        init(_ values: [Double]) {
            let s = values.sorted()
            min = s.first ?? 0
            median = s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
        }
    }
    let model: String, weights: String, threads: Int, prompt_tokens: Int, gen_tokens: Int, depth: Int
    let image_encode_ms: Stat?
    let prefill_tokens_per_second: Stat, decode_tokens_per_second: Stat
    let peak_resident_mb: Double

    var table: String {
        func row(_ test: String, _ stat: Stat, _ digits: Int) -> String {
            "| \(model) | \(weights) | \(threads) | \(test) | \(String(format: "%.\(digits)f", stat.min)) | \(String(format: "%.\(digits)f", stat.median)) |"
        }
        var lines = ["| model | weights | threads | test | min | median |", "|---|---|---|---|---|---|"]
        if let image_encode_ms { lines.append(row("image encode (ms)", image_encode_ms, 1)) }
        let at = depth > 0 ? " @ d\(depth)" : ""
        lines.append(row("pp\(prompt_tokens)\(at) (tok/s)", prefill_tokens_per_second, 2))
        lines.append(row("tg\(gen_tokens)\(at) (tok/s)", decode_tokens_per_second, 2))
        lines.append("peak resident memory: \(String(format: "%.0f", peak_resident_mb)) MB")
        return lines.joined(separator: "\n")
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
