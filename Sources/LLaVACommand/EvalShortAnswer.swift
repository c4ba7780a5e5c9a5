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
    func run(_ benchmark: ShortAnswerBenchmark, allQuestionIDs: [String]? = nil, load: (URL) throws -> [ShortAnswerQuestion]) async throws {
        try runtime.apply(level: .info)
        let questions = try load(URL(fileURLWithPath: questionFile))
        let images = try existingFolder(imageFolder, flag: "--image-folder")
        guard let (answers, model) = try await options.answer(benchmark.items(questions, imageFolder: images), benchmark: benchmark.rawValue) else { return }
        let upload = options.resultsFolder.appendingPathComponent("\(benchmark.rawValue)_submission.json")
        try ResultFile.writeData(try benchmark.submission(questions, answers: answers, allQuestionIDs: allQuestionIDs), to: upload)
        print("submission: \(upload.path)")
        if let result = benchmark.result(questions, answers: answers, model: model) {
            try options.report(result, answers: answers)
        } else {
            print("this split has no answers: submit \(upload.lastPathComponent) to the evaluation server")
        }
    }
}

struct VQAv2Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqav2",
        abstract: "VQAv2 from v2_OpenEnded_mscoco_<subtype>_questions.json (images test2015 or val2014): the EvalAI submission file, and with --annotation-file (val) the accuracy of the official vqaEval.py.")
    @Option(help: "v2_mscoco_<subtype>_annotations.json (val only): score locally.") var annotationFile: String?
    @Option(help: "Image file prefix (default: COCO_<subtype>_ from the questions file; test-dev uses COCO_test2015_).") var imagePrefix: String?
    @Option(help: "A questions file listing every question the submission needs (test-dev: v2_OpenEnded_mscoco_test2015_questions.json); unanswered ones get \"\" as in convert_vqav2_for_submission.py.")
    var submissionQuestions: String?
    @OptionGroup var arguments: ShortAnswerArguments

    func run() async throws {
        let all = try submissionQuestions.map { try ShortAnswerBenchmark.loadVQAv2(questions: URL(fileURLWithPath: $0), annotations: nil).map(\.questionID) }
        try await arguments.run(.vqav2, allQuestionIDs: all) {
            try ShortAnswerBenchmark.loadVQAv2(questions: $0, annotations: annotationFile.map { URL(fileURLWithPath: $0) }, imagePrefix: imagePrefix)
        }
    }
}

struct TextVQACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "textvqa",
        abstract: "TextVQA from TextVQA_0.5.1_<split>.json (images train_images), asked with its OCR tokens as LLaVA-1.5 does; VQA accuracy as LLaVA's m4c evaluator.")
    @Option(help: "Rosetta OCR tokens (TextVQA_Rosetta_OCR_v0.2_<split>.json) for questions without ocr_tokens of their own.") var ocrFile: String?
    @Flag(inversion: .prefixedNo, help: "Put the OCR tokens in the prompt (\"Reference OCR token: …\", llava_textvqa_val_v051_ocr.jsonl).") var ocrTokens = true
    @OptionGroup var arguments: ShortAnswerArguments

    func run() async throws {
        try await arguments.run(.textvqa) { try ShortAnswerBenchmark.loadTextVQA($0, ocr: ocrTokens, ocrFile: ocrFile.map { URL(fileURLWithPath: $0) }) }
    }
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
        if let result = GQA.result(questions, answers: answers, model: model) { try options.report(result, answers: answers) }
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
