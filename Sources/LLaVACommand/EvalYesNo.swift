import ArgumentParser
import Evaluation
import Foundation

struct POPECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pope",
        abstract: "POPE: accuracy, precision, recall, F1 and yes-ratio per category (random, popular, adversarial), as eval_pope.py.")
    @Option(help: "Folder with POPE's coco_pope_<category>.json files.") var annotationDir: String
    @Option(help: "Folder of the COCO images the questions name (val2014).") var imageFolder: String
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let questions = try POPE.load(folder: try existingFolder(annotationDir, flag: "--annotation-dir"))
        let images = try existingFolder(imageFolder, flag: "--image-folder")
        guard let (answers, model) = try await options.answer(POPE.items(questions, imageFolder: images), benchmark: "pope") else { return }
        let scores = try POPE.score(questions, answers: answers)
        var table = ["| category | accuracy | precision | recall | F1 | yes ratio | TP | FP | TN | FN |", "|---|---|---|---|---|---|---|---|---|---|"]
        for c in scores.keys.sorted() {
            let s = scores[c]!
            table.append("| \(c) | " + [s.accuracy, s.precision, s.recall, s.f1, s.yesRatio].map { String(format: "%.3f", $0) }.joined(separator: " | ")
                         + " | \(s.truePositives) | \(s.falsePositives) | \(s.trueNegatives) | \(s.falseNegatives) |")
        }
        try options.report(POPE.result(scores, model: model), table: table.joined(separator: "\n"), answers: answers)
    }
}

struct MMECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mme",
        abstract: "MME: accuracy and accuracy+ per subtask, perception and cognition totals, as MME's calculation.py; writes its results_dir files.")
    @Option(help: "MME_Benchmark_release_version: one folder per subtask.") var benchmarkDir: String
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let root = try existingFolder(benchmarkDir, flag: "--benchmark-dir")
        let questions = try MME.load(root: root)
        guard let (answers, model) = try await options.answer(MME.items(questions, root: root), benchmark: "mme") else { return }
        // The files MME's eval_tool reads (calculation.py --results_dir <this folder>).
        let folder = options.resultsFolder.appendingPathComponent("mme_results")
        var scores: [String: MME.SubtaskScore] = [:]
        for (subtask, text) in try MME.resultFiles(questions, answers: answers) {
            try ResultFile.writeText(text, to: folder.appendingPathComponent("\(subtask).txt"))
            scores[subtask] = try MME.score(resultFile: text, name: subtask)
        }
        var table = ["| subtask | accuracy | accuracy+ | score |", "|---|---|---|---|"]
        for name in MME.perception + MME.cognition {
            guard let s = scores[name] else { continue }
            table.append("| \(name) | \(String(format: "%.2f", s.accuracy)) | \(String(format: "%.2f", s.accuracyPlus)) | \(String(format: "%.2f", s.score)) |")
        }
        try options.report(MME.result(scores, model: model), table: table.joined(separator: "\n"), answers: answers)
    }
}
