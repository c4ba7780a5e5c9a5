import ArgumentParser
import Distributed
import Foundation
import Language
import Tokenizer
import Training

struct TrainLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lm",
        abstract: "Pretrain a LLaMA-family language model from scratch on text (written in HF LLaMA layout).",
        discussion: """
        --data takes text files (one document per line) or JSON files (every string in them is a
        document, with <image> markers removed: LLaVA JSON conversations, COCO captions).
        With --prompt-format, each LLaVA record (.json or .jsonl) is instead one document, rendered
        as training renders it (v1: the system prompt, USER:/ASSISTANT: turns and </s> after each
        answer), so the model learns the chat format before LLaVA's stages.
        """)

    @Option(help: "A tokenizer directory (tokenizer.json), e.g. from `llava train-tokenizer`.") var tokenizer: String
    @Option(parsing: .upToNextOption, help: "Training text: .txt/.jsonl lines or .json files.") var data: [String]
    @Option(help: "Hidden size.") var hiddenSize = 128
    @Option(help: "MLP width.") var intermediateSize = 352
    @Option(help: "Decoder blocks.") var layers = 4
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Key/value heads (grouped-query attention when fewer than heads).") var kvHeads: Int?
    @Option(help: "Longest sequence.") var maxPositionEmbeddings = 512
    @Option(help: "Tokens per packed training sequence (documents are concatenated and cut).") var sequenceLength = 256
    @Flag(help: "One document per sequence instead of packing.") var noPacking = false
    @Option(help: "Render LLaVA records in this prompt format (plain or v1) instead of taking their strings.")
    var promptFormat: DataTemplate?
    @OptionGroup var hyper: TrainHyperparameters
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let tokenizerURL = URL(fileURLWithPath: tokenizer)
        let tok = try Tokenizer(directory: tokenizerURL)
        let config = LlamaConfiguration(vocabularySize: tok.vocabularySize, hiddenSize: hiddenSize,
                                        intermediateSize: intermediateSize, layerCount: layers, headCount: heads,
                                        kvHeadCount: kvHeads, rmsNormEps: 1e-5, maxPositionEmbeddings: maxPositionEmbeddings,
                                        bosTokenID: tok.bosTokenID, eosTokenIDs: tok.eosTokenID.map { [$0] } ?? [],
                                        padTokenID: tok.padTokenID)
        var options = try hyper.options(for: .finetuneFull)
        if hyper.learningRate == nil { options.learningRate = 1e-3 }
        if hyper.batchSize == nil { options.batchSize = 16 }
        options.groupByModalityLength = false
        options.modelMaxLength = min(sequenceLength, maxPositionEmbeddings)
        let documents = try data.flatMap { path in
            let url = URL(fileURLWithPath: path)
            guard let promptFormat else { return try textDocuments(url) }
            return try renderedDocuments(url, format: promptFormat).map { cleanDocument($0) }.filter { !$0.isEmpty }
        }
        let samples = languageModelSamples(documents, tokenizer: tok, maxLength: options.modelMaxLength, pack: !noPacking)
        try ProcessGroup.world.runOrAbort {
            let graph = languageModelGraph(weights: .initialized(config: config, seed: hyper.seed), config: config, seed: hyper.seed)
            graph.decoder.gradientCheckpointing = hyper.gradientCheckpointing
            let trainer = try Trainer(graph: graph, samples: samples, lengths: samples.map(\.inputIDs.count), features: nil,
                                      options: options, outputDirectory: URL(fileURLWithPath: hyper.outputDir), group: .world)
            try runTrainer(trainer, hyper: hyper,
                           what: "pretraining on \(samples.count) documents for \(trainer.totalSteps) steps; \(graph.parameters.reduce(0) { $0 + $1.value.count }) parameters")
            guard trainer.group.isRoot else { return }
            let out = trainer.outputDirectory.appendingPathComponent("model")
            try ModelExport.writeLlama(to: out, decoder: graph.decoder, tokenizerDirectory: tokenizerURL)
            printErr("wrote \(out.path)")
        }
    }
}

/// Documents of a training file: lines of a text file, or every string of a JSON file.
func textDocuments(_ url: URL) throws -> [String] {
    guard let data = FileManager.default.contents(atPath: url.path) else { throw ValidationError("\(url.path): file not found") }
    let clean = cleanDocument
    if url.pathExtension == "json", let json = try? JSONSerialization.jsonObject(with: data) {
        var out: [String] = []
        func walk(_ v: Any, key: String?) {
            if let s = v as? String {
                // Skip identifiers, file names and role labels; keep prose.
                if let key, ["id", "image", "file_name", "from", "name", "type"].contains(key) { return }
                let c = clean(s)
                if c.contains(" ") { out.append(c) }
            } else if let a = v as? [Any] {
                a.forEach { walk($0, key: key) }
            } else if let o = v as? [String: Any] {
                for k in o.keys.sorted() { walk(o[k]!, key: k) }
            }
        }
        walk(json, key: nil)
        return out
    }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map { clean(String($0)) }.filter { !$0.isEmpty }
}

/// A document without LLaVA's image markers or surrounding whitespace.
func cleanDocument(_ s: String) -> String {
    s.replacingOccurrences(of: "<image>", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Documents of a training file with LLaVA records rendered in `format` (one per record, see
/// `DataPreprocessor.renderedText`); other files (not .json or .jsonl) give their lines.
func renderedDocuments(_ url: URL, format: DataTemplate) throws -> [String] {
    guard ["json", "jsonl"].contains(url.pathExtension.lowercased()) else {
        return try BPETrainingText.documents(in: url)
    }
    let records = try DataLoading.records(contentsOf: url)
    do {
        return try records.map { try DataPreprocessor.renderedText(of: $0, template: format) }
    } catch {
        throw ValidationError("\(url.path): \(error)")
    }
}

extension DataTemplate: ExpressibleByArgument {}
