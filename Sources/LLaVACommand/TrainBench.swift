import ArgumentParser
import Foundation
import LLaVA
import Language
import Tensor
import Training

/// `llava bench train`: training throughput and memory on a model's shape with random weights
/// (no data, no download), like `llava bench` for inference.
///
///     llava bench train --preset tiny --batch-size 16 --sequence-length 256 --steps 6
///     llava bench train --preset llava-1.5-7b --lora-r 128 --sequence-length 2048 --batch-size 1 --gradient-checkpointing
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure training speed (tokens/s) and peak memory on a preset shape with random weights.",
        discussion: """
        Each step is a whole optimizer step as `llava train` runs it: forward, loss, backward,
        gradient clipping and AdamW over --batch-size random sequences of --sequence-length
        positions. Stage lm trains every tensor of the decoder on text (`llava train lm`); full
        and lora train stage 2 (projector + LLM or LoRA), pretrain stage 1 (projector), each
        sequence then starting with one image of random vision features when the preset has a
        vision tower. Frozen weights stay in --weights (f16 by default; never widened whole).
        The first step is a warm-up; tokens/s is the median of the others (of the warm-up
        itself with --steps 1, which still measures the peak memory: the optimizer's moments
        exist from the first step).
        """)

    @Option(help: "Shape preset: \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: ModelPreset = .tiny
    @Option(help: "What trains: lm, pretrain, full or lora (default: lora with --lora-r, else lm).")
    var stage: String?
    @Option(help: "LoRA rank (stage lora).") var loraR = 128
    @Option(help: "LoRA alpha.") var loraAlpha: Float = 256
    @Option(help: "LoRA dropout.") var loraDropout: Float = 0.05
    @Option(help: "Override the preset: hidden size.") var hiddenSize: Int?
    @Option(help: "Override the preset: MLP width.") var intermediateSize: Int?
    @Option(help: "Override the preset: decoder blocks.") var layers: Int?
    @Option(help: "Override the preset: attention heads (and key/value heads).") var heads: Int?
    @Option(help: "Override the preset: vocabulary size.") var vocabularySize: Int?
    @Option(help: "Weight type of frozen weights: f32, f16 or bf16.") var weights: WeightType = .f16
    @Option(help: "Sequences per optimizer step.") var batchSize = 16
    @Option(help: "Positions per sequence (image features included).") var sequenceLength = 256
    @Option(help: "Optimizer steps (the first is a warm-up).") var steps = 4
    @Flag(help: "Recompute block activations in the backward pass.") var gradientCheckpointing = false
    @Flag(inversion: .prefixedNo, help: "Split each batch's sequences over the --threads (off: every kernel threaded).")
    var threadShards = true
    @Option(help: "How AdamW keeps its moments: f32 (torch's AdamW) or bf16 (half the optimizer memory, stochastic rounding).")
    var optimizerMoments: MomentPrecision = .f32
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard batchSize > 0, sequenceLength > 1, steps > 0 else {
            throw ValidationError("--batch-size > 0, --sequence-length > 1 and --steps > 0")
        }
        guard ["lm", "pretrain", "full", "lora"].contains(resolvedStage) else {
            throw ValidationError("--stage must be lm, pretrain, full or lora, got \(resolvedStage)")
        }
    }

    var resolvedStage: String { stage ?? "lm" }

    var config: LlamaConfiguration {
        let p = preset.text
        return LlamaConfiguration(vocabularySize: vocabularySize ?? p.vocabularySize, hiddenSize: hiddenSize ?? p.hiddenSize,
                                  intermediateSize: intermediateSize ?? p.intermediateSize, layerCount: layers ?? p.layerCount,
                                  headCount: heads ?? p.headCount, kvHeadCount: heads ?? p.kvHeadCount, rmsNormEps: p.rmsNormEps,
                                  maxPositionEmbeddings: max(p.maxPositionEmbeddings, sequenceLength))
    }

    func run() throws {
        try runtime.apply()
        let c = config, stage = resolvedStage
        printErr("building random \(preset.rawValue) weights (\(c.layerCount) layers, hidden \(c.hiddenSize), \(weights.rawValue))…")
        let graph = try makeGraph(c, stage: stage)
        graph.decoder.gradientCheckpointing = gradientCheckpointing
        graph.shardsAcrossThreads = threadShards
        let batch = makeBatch(graph, config: c, visionWidth: preset.vision?.hiddenSize ?? c.hiddenSize)
        let params = graph.parameters
        var optimizer = AdamW(weightDecay: 0, momentPrecision: optimizerMoments)
        var rates: [Double] = []
        let clock = ContinuousClock()
        let positions = try graph.countPositions(batch), targets = try graph.countTargets(batch)
        for s in 0..<steps {
            let t0 = clock.now
            zeroGradients(params)
            let loss = try graph.accumulate(batch, normalizer: targets) / Double(targets)
            _ = clipGradientNorm(params, maxNorm: 1)
            optimizer.step(params, lr: 1e-4)
            let dt = seconds(clock.now - t0)
            if s > 0 || steps == 1 { rates.append(Double(positions) / dt) }
            printErr(String(format: "step %d: loss %.4f, %.2f s, %.0f tokens/s%@", s + 1, loss, dt, Double(positions) / dt,
                            s == 0 ? " (warm-up)" : ""))
        }
        let report = TrainBenchReport(
            model: preset.rawValue, stage: stage == "lora" ? "lora-r\(loraR)" : stage, weights: weights.rawValue,
            optimizer_moments: optimizerMoments.rawValue,
            threads: Compute.threads, batch_size: batchSize, sequence_length: sequenceLength,
            gradient_checkpointing: gradientCheckpointing, trainable_parameters: params.reduce(0) { $0 + $1.value.count },
            tokens_per_second: .init(rates), peak_resident_mb: Double(peakResidentBytes()) / 1_048_576)
        try report.print(json: json)
    }

    private func makeGraph(_ c: LlamaConfiguration, stage: String) throws -> LLaVATrainingModel {
        if stage == "lm" {
            return languageModelGraph(weights: LlamaModel.random(config: c, dtype: .f32, seed: 1).weights, config: c, seed: 1)
        }
        let mode: DecoderTraining
        switch stage {
        case "pretrain": mode = .frozen
        case "full": mode = .full
        default: mode = .lora(rank: loraR, alpha: loraAlpha, dropout: loraDropout)
        }
        let decoder = TrainableDecoder(weights: LlamaModel.random(config: c, dtype: weights.dtype, seed: 1).weights,
                                       config: c, mode: mode, seed: 1)
        let vision = preset.vision
        let projector = preset.randomProjector(visionWidth: vision?.hiddenSize ?? c.hiddenSize, dtype: .f32)
        let names = projector.layers.indices.map { "multi_modal_projector.linear_\($0 + 1)" }
        let rows = vision.map { ($0.imageSize / $0.patchSize) * ($0.imageSize / $0.patchSize) } ?? 0
        return LLaVATrainingModel(decoder: decoder, projector: TrainableProjector(projector, names: names, lrScale: 1),
                                  imageTokenID: originalImagePlaceholder, featuresPerImage: vision == nil ? 0 : rows)
    }

    /// Random sequences: one image (random features) then tokens when the graph has images.
    private func makeBatch(_ graph: LLaVATrainingModel, config c: LlamaConfiguration, visionWidth w: Int) -> [TrainingExample] {
        var rng = SplitMix64(seed: 7)
        let p = graph.featuresPerImage, image = p > 0 && p < sequenceLength
        return (0..<batchSize).map { _ in
            let text = (0..<(sequenceLength - (image ? p : 0))).map { _ in Int(rng.next() % UInt64(c.vocabularySize)) }
            guard image else { return TrainingExample(inputIDs: text, labels: text, imageFeatures: []) }
            let features = (0..<(p * w)).map { _ in Float(Int32(truncatingIfNeeded: rng.next() >> 32)) / 2_147_483_648 }
            return TrainingExample(inputIDs: [originalImagePlaceholder] + text, labels: [ignoreIndex] + text,
                                   imageFeatures: [features])
        }
    }
}

struct TrainBenchReport: BenchTable {
    let model: String, stage: String, weights: String, optimizer_moments: String, threads: Int, batch_size: Int
    let sequence_length: Int
    let gradient_checkpointing: Bool, trainable_parameters: Int
    let tokens_per_second: BenchReport.Stat
    let peak_resident_mb: Double

    var table: String {
        [
            "| model | stage | weights | threads | batch × length | checkpointing | tokens/s (min) | tokens/s (median) | peak RSS (MB) |",
            "|---|---|---|---|---|---|---|---|---|",
            "| \(model) | \(stage) | \(weights) | \(threads) | \(batch_size) × \(sequence_length) | \(gradient_checkpointing ? "yes" : "no") | "
                + String(format: "%.0f | %.0f | %.0f |", tokens_per_second.min, tokens_per_second.median, peak_resident_mb),
            "trainable parameters: \(trainable_parameters), AdamW moments: \(optimizer_moments)",
        ].joined(separator: "\n")
    }
}

extension MomentPrecision: ExpressibleByArgument {}
