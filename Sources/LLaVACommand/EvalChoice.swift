import ArgumentParser
import Evaluation
import Foundation

struct MMBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mmbench",
        abstract: "MMBench from its TSV: circular accuracy (every shifted copy of a question right), letters read as MMBench does; writes the submission .xlsx.")
    @Option(help: "The MMBench TSV (e.g. mmbench_dev_20230712.tsv).") var questionFile: String
    @Flag(help: "Also ask every row once per option with the options rotated (the reference's --all-rounds).") var allRounds = false
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let url = URL(fileURLWithPath: questionFile)
        let (table, questions) = try MMBench.load(url)
        let items = MMBench.items(questions, rotate: allRounds, source: url.path)
        guard let (answers, model) = try await options.answer(items, benchmark: "mmbench") else { return }
        let upload = options.resultsFolder.appendingPathComponent(url.deletingPathExtension().lastPathComponent + ".xlsx")
        try ResultFile.writeData(try MMBench.submission(table, answers: answers), to: upload)
        print("submission: \(upload.path)")
        guard questions.contains(where: { $0.answer != nil }) else {
            print("no answers in \(url.lastPathComponent): submit \(upload.lastPathComponent) to the evaluation server")
            return
        }
        try options.report(MMBench.result(try MMBench.score(questions, answers: answers, rotate: allRounds), model: model), answers: answers)
    }
}
