import ArgumentParser
import Evaluation
import Foundation
import LLaVA
import Logging

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on LLaVA's benchmarks from their original files, and on the synthetic world.",
        discussion: """
        Each benchmark command answers its questions with greedy decoding (several in flight at once), \
        appending to a resumable answers file, then scores them as the benchmark's reference code does, \
        prints the scores, writes <results-dir>/<benchmark>.json and, where the benchmark has one, the file \
        its evaluation server takes. `llava eval report` puts every result beside the paper's LLaVA-1.5-7B row. \
        See docs/evaluation.md.
        """,
        subcommands: [VQA.self, SynthEval.self, ScienceQACommand.self, LLaVABenchCommand.self, POPECommand.self, MMECommand.self,
                      MMBenchCommand.self, VQAv2Command.self, TextVQACommand.self, VizWizCommand.self, GQACommand.self, SynthBenchmarksCommand.self,
                      ReportCommand.self])
}

/// The flags every benchmark shares: the model, the answers file, sharding and batching.
struct BenchmarkOptions: ParsableArguments {
    @OptionGroup var model: ModelOptions

    @Option(help: "Answers, JSONL (the reference's answers-file format); an existing file is resumed (default: <results-dir>/<benchmark>.answers.jsonl).")
    var answersFile: String?

    @Option(help: "Folder for the answers, results and submission files.")
    var resultsDir = "eval-results"

    @Option(help: "Split the questions into this many contiguous chunks (the reference's split_list)…")
    var numChunks = 1

    @Option(help: "…and answer only this one (scoring needs every chunk: concatenate the chunks' answers files and run again with --answers-file).")
    var chunkIdx = 0

    @Option(help: "Questions decoded together in one batch.")
    var parallel = 4

    @Option(help: "Longest answer, in tokens.")
    var maxNewTokens = 128

    func validate() throws {
        guard numChunks > 0, (0..<numChunks).contains(chunkIdx) else {
            throw ValidationError("--chunk-idx must be in 0..<--num-chunks, got \(chunkIdx) of \(numChunks)")
        }
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1, got \(parallel)") }
        guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1, got \(maxNewTokens)") }
        guard model.convMode != "raw" else { throw ValidationError("--conv-mode raw cannot wrap a question: use auto or a template name") }
    }

    var resultsFolder: URL { URL(fileURLWithPath: resultsDir) }

    func answersURL(_ benchmark: String) -> URL {
        answersFile.map { URL(fileURLWithPath: $0) } ?? resultsFolder.appendingPathComponent("\(benchmark).answers.jsonl")
    }

    /// Answers this run's chunk of `items`; nil when the run is one chunk of several (nothing to score yet).
    func answer(_ items: [BenchmarkItem], benchmark: String) async throws -> (answers: [String: EvaluationAnswer], model: String)? {
        let logger = Logger(label: "llava.eval.\(benchmark)")
        let chunk = Array(QuestionAnswering.chunk(items, count: numChunks, index: chunkIdx))
        logger.info("\(benchmark): \(chunk.count) questions\(numChunks > 1 ? " (chunk \(chunkIdx) of \(numChunks))" : "")")
        var modelID = "unknown"
        var run = AnswerRun(answersFile: answersURL(benchmark), logger: logger)
        run.maxImagePixels = Int(model.maxImageMegapixels * 1_000_000)
        let answers = try await run.run(chunk) {
            let answerer = try makeAnswerer(logger: logger)
            modelID = answerer.modelID
            return answerer
        }
        if let any = answers.values.first { modelID = any.modelID }
        guard numChunks == 1 else {
            logger.notice("chunk \(chunkIdx) of \(numChunks) answered into \(answersURL(benchmark).path); concatenate every chunk's file and run again with --answers-file to score")
            return nil
        }
        return (answers, modelID)
    }

    private func makeAnswerer(logger: Logger) throws -> Answerer {
        guard case .llava(let llava) = try LoadedModel(directory: try model.modelDirectory(), visionTower: model.visionTower,
                                                       mmproj: model.mmproj, logger: logger) else {
            throw ValidationError("\(try model.modelDirectory()) is a text-only model; benchmarks need a LLaVA model")
        }
        let template = model.convMode == "auto" ? ConversationTemplate.automatic(for: llava) : try ConversationTemplate.named(model.convMode)
        logger.info("answering with \(llava.name), template \(template.name), \(parallel) in flight")
        let engine = InferenceEngine(model: llava, template: template, parallel: parallel, maxWaiting: max(64, parallel),
                                     aspect: model.imageAspect.mode, logger: logger)
        return EngineAnswerer(engine: engine, maxNewTokens: maxNewTokens)
    }

    /// Prints the result and writes `<results-dir>/<benchmark>.json`, with the count of
    /// `answers` that did not fit the context (answered empty, scored as wrong).
    func report(_ result: BenchmarkResult, table: String? = nil, answers: [String: EvaluationAnswer]) throws {
        var result = result
        result.counts["overlong questions"] = answers.values.filter(\.isOverlong).count
        try result.write(toFolder: resultsFolder)
        if let table { print(table) }
        for key in result.metrics.keys.sorted() { print("\(key): \(String(format: "%.2f", result.metrics[key]!))") }
        for key in result.counts.keys.sorted() { print("\(key): \(result.counts[key]!)") }
        print("\(result.benchmark) \(result.headline): \(String(format: "%.2f", result.headlineValue ?? .nan))")
    }
}

/// `--image-folder`, checked to exist.
func existingFolder(_ path: String, flag: String) throws -> URL {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
        throw ValidationError("\(flag) \(path): no such folder")
    }
    return URL(fileURLWithPath: path)
}
