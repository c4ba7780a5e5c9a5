import ArgumentParser
import Evaluation
import Foundation

/// Answers a short-answer set, writes its submission file, and scores it where the split has answers.
private func runShortAnswer(_ benchmark: ShortAnswerBenchmark, _ questions: [ShortAnswerQuestion], imageFolder: String,
                            submissionName: String, options: BenchmarkOptions) async throws {
    let images = try existingFolder(imageFolder, flag: "--image-folder")
    guard let (answers, model) = try await options.answer(benchmark.items(questions, imageFolder: images), benchmark: benchmark.rawValue) else { return }
    let upload = options.resultsFolder.appendingPathComponent(submissionName)
    try ResultFile.writeData(try benchmark.submission(questions, answers: answers), to: upload)
    print("submission: \(upload.path)")
    if let result = benchmark.result(questions, answers: answers, model: model) {
        try options.report(result)
    } else {
        print("this split has no answers: submit \(upload.lastPathComponent) to the evaluation server")
    }
}

struct VQAv2Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqav2",
        abstract: "VQAv2 from its questions JSON: the EvalAI submission file, and the VQA accuracy when an annotations file is given (val).")
    @Option(help: "v2_OpenEnded_mscoco_<subtype>_questions.json.") var questionFile: String
    @Option(help: "v2_mscoco_<subtype>_annotations.json (val only): score locally.") var annotationFile: String?
    @Option(help: "Folder of the COCO images (test2015 or val2014).") var imageFolder: String
    @Option(help: "Image file prefix (default: COCO_<subtype>_ from the questions file; test-dev uses COCO_test2015_).") var imagePrefix: String?
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let questions = try ShortAnswerBenchmark.loadVQAv2(questions: URL(fileURLWithPath: questionFile),
                                                           annotations: annotationFile.map { URL(fileURLWithPath: $0) }, imagePrefix: imagePrefix)
        try await runShortAnswer(.vqav2, questions, imageFolder: imageFolder, submissionName: "vqav2_submission.json", options: options)
    }
}

struct TextVQACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "textvqa",
        abstract: "TextVQA from TextVQA_0.5.1_<split>.json: VQA accuracy as LLaVA's m4c evaluator (without OCR tokens in the prompt).")
    @Option(help: "TextVQA_0.5.1_val.json (or test).") var questionFile: String
    @Option(help: "Folder of the images (train_images).") var imageFolder: String
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let questions = try ShortAnswerBenchmark.loadTextVQA(URL(fileURLWithPath: questionFile))
        try await runShortAnswer(.textvqa, questions, imageFolder: imageFolder, submissionName: "textvqa_submission.json", options: options)
    }
}

struct VizWizCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vizwiz",
        abstract: "VizWiz from val.json or test.json: the EvalAI submission file ([{image, answer}]), VQA accuracy on val.")
    @Option(help: "VizWiz Annotations/test.json or val.json.") var questionFile: String
    @Option(help: "Folder of the images (test or val).") var imageFolder: String
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let questions = try ShortAnswerBenchmark.loadVizWiz(URL(fileURLWithPath: questionFile))
        try await runShortAnswer(.vizwiz, questions, imageFolder: imageFolder, submissionName: "vizwiz_submission.json", options: options)
    }
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
