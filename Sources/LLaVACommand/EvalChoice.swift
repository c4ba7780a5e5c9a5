import ArgumentParser
import Evaluation
import Foundation

struct MMBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mmbench",
        abstract: "MMBench from its TSV: circular accuracy (every shifted copy of a question right), letters read as MMBench's evaluator does (a judge LLM matches the rest with --judge-url); writes the submission .xlsx.",
        discussion: """
        MMBench's evaluator matches answers it cannot read with gpt-3.5-turbo-0613 at temperature 0: \
        --judge-url … --judge-model gpt-3.5-turbo-0613 --judge-temperature 0. Without --judge-url such a \
        question counts as failed, and the count is reported.
        """)
    @Option(help: "The MMBench TSV (e.g. mmbench_dev_20230712.tsv).") var questionFile: String
    @Flag(help: "Also ask every row once per option with the options rotated (the reference's --all-rounds).") var allRounds = false
    @Option(help: "en, or cn for MMBench-CN (mmbench_dev_cn_20231003.tsv): the instruction \"请直接回答选项字母。\" as the reference's --lang cn.")
    var lang = "en"
    @OptionGroup var judgeOptions: JudgeOptions
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let url = URL(fileURLWithPath: questionFile)
        let (table, questions) = try MMBench.load(url)
        guard ["en", "cn"].contains(lang) else { throw ValidationError("--lang must be en or cn, got '\(lang)'") }
        let items = MMBench.items(questions, rotate: allRounds, source: url.path, chinese: lang == "cn")
        guard let (answers, model) = try await options.answer(items, benchmark: "mmbench") else { return }
        let upload = options.resultsFolder.appendingPathComponent(url.deletingPathExtension().lastPathComponent + ".xlsx")
        try ResultFile.writeData(try MMBench.submission(table, answers: answers), to: upload)
        print("submission: \(upload.path)")
        guard questions.contains(where: { $0.answer != nil }) else {
            print("no answers in \(url.lastPathComponent): submit \(upload.lastPathComponent) to the evaluation server")
            return
        }
        let scores: MMBench.Scores
        if let (judge, client) = try judgeOptions.makeJudge() {
            var matcher = MMBenchMatcher(judge: judge)
            matcher.parallel = judgeOptions.judgeParallel
            do {
                scores = try await matcher.score(questions, answers: answers, rotate: allRounds,
                                                 log: options.resultsFolder.appendingPathComponent("mmbench.matching.jsonl"))
            } catch {
                try? await client.shutdown()
                throw error
            }
            try? await client.shutdown()
        } else {
            scores = try MMBench.score(questions, answers: answers, rotate: allRounds)
            if scores.failedWithoutJudge > 0 {
                print("\(scores.failedWithoutJudge) questions have answers no option letter could be read from; without --judge-url they count as failed")
            }
        }
        try options.report(MMBench.result(scores, model: model), answers: answers)
    }
}
