import ArgumentParser
import Evaluation
import Foundation

/// The question file and image folder of a short-answer benchmark, with the shared flags.
struct ShortAnswerArguments: ParsableArguments {
    @Option(help: "The benchmark's question file (see the command's description).") var questionFile: String
    @Option(help: "Folder of the images the questions name.") var imageFolder: String
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    /// Answers the questions, writes the submission file, and scores where the split has answers.
    func run(_ benchmark: ShortAnswerBenchmark, load: (URL) throws -> [ShortAnswerQuestion]) async throws {
        try runtime.apply(level: .info)
        let questions = try load(URL(fileURLWithPath: questionFile))
        let images = try existingFolder(imageFolder, flag: "--image-folder")
        guard let (answers, model) = try await options.answer(benchmark.items(questions, imageFolder: images), benchmark: benchmark.rawValue) else { return }
        let upload = options.resultsFolder.appendingPathComponent("\(benchmark.rawValue)_submission.json")
        try ResultFile.writeData(try benchmark.submission(questions, answers: answers), to: upload)
        print("submission: \(upload.path)")
        if let result = benchmark.result(questions, answers: answers, model: model) {
            try options.report(result)
        } else {
            print("this split has no answers: submit \(upload.lastPathComponent) to the evaluation server")
        }
    }
}

struct VQAv2Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqav2",
        abstract: "VQAv2 from v2_OpenEnded_mscoco_<subtype>_questions.json (images test2015 or val2014): the EvalAI submission file, and the VQA accuracy with --annotation-file (val).")
    @Option(help: "v2_mscoco_<subtype>_annotations.json (val only): score locally.") var annotationFile: String?
    @Option(help: "Image file prefix (default: COCO_<subtype>_ from the questions file; test-dev uses COCO_test2015_).") var imagePrefix: String?
    @OptionGroup var arguments: ShortAnswerArguments

    func run() async throws {
        try await arguments.run(.vqav2) {
            try ShortAnswerBenchmark.loadVQAv2(questions: $0, annotations: annotationFile.map { URL(fileURLWithPath: $0) }, imagePrefix: imagePrefix)
        }
    }
}

struct TextVQACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "textvqa",
        abstract: "TextVQA from TextVQA_0.5.1_<split>.json (images train_images): VQA accuracy as LLaVA's m4c evaluator (without OCR tokens in the prompt).")
    @OptionGroup var arguments: ShortAnswerArguments

    func run() async throws { try await arguments.run(.textvqa, load: ShortAnswerBenchmark.loadTextVQA) }
}

struct VizWizCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vizwiz",
        abstract: "VizWiz from Annotations/test.json or val.json: the EvalAI submission file ([{image, answer}]), VQA accuracy on val.")
    @OptionGroup var arguments: ShortAnswerArguments

    func run() async throws { try await arguments.run(.vizwiz, load: ShortAnswerBenchmark.loadVizWiz) }
}

struct GQACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gqa",
        abstract: "GQA from testdev_balanced_questions.json: exact-match accuracy (open and binary) as GQA's eval.py; writes testdev_balanced_predictions.json.")
    @Option(help: "testdev_balanced_questions.json.") var questionFile: String
    @Option(help: "Folder of the GQA images.") var imageFolder: String
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let questions = try GQA.load(URL(fileURLWithPath: questionFile))
        let images = try existingFolder(imageFolder, flag: "--image-folder")
        guard let (answers, model) = try await options.answer(GQA.items(questions, imageFolder: images), benchmark: "gqa") else { return }
        let predictions = options.resultsFolder.appendingPathComponent("testdev_balanced_predictions.json")
        try ResultFile.writeData(try GQA.predictions(questions, answers: answers), to: predictions)
        print("predictions: \(predictions.path)")
        if let result = GQA.result(questions, answers: answers, model: model) { try options.report(result) }
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Every benchmark result in a results folder as one table beside the paper's LLaVA-1.5-7B row.")
    @Argument(help: "The results folder (each benchmark's --results-dir).") var resultsDir = "eval-results"

    func run() async throws {
        let report = try EvaluationReport(folder: URL(fileURLWithPath: resultsDir))
        guard !report.results.isEmpty else { throw ValidationError("\(resultsDir) holds no benchmark results (<benchmark>.json)") }
        print(report.markdown)
    }
}
