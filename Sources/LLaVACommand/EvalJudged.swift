import ArgumentParser
import Evaluation
import Foundation
import DataGeneration
import Logging
import OpenAIClient

/// The judge LLM: any OpenAI-compatible endpoint (`llava serve` included).
struct JudgeOptions: ParsableArguments {
    @Option(help: "The judge's API base, e.g. https://api.openai.com/v1 or http://127.0.0.1:8080/v1.") var judgeURL: String?
    @Option(help: "The judge model's name, as the endpoint knows it.") var judgeModel = "gpt-4-0314"
    @Option(help: "The judge's API key (default: $OPENAI_API_KEY).") var judgeAPIKey: String?
    @Option(help: "Judge sampling temperature (the reference reviews at 0.2).") var judgeTemperature = 0.2
    @Option(help: "Longest judge reply, in tokens.") var judgeMaxTokens = 1024
    @Option(help: "Judge requests in flight at once.") var judgeParallel = 4

    func validate() throws {
        guard judgeParallel >= 1 else { throw ValidationError("--judge-parallel must be at least 1, got \(judgeParallel)") }
        guard judgeMaxTokens >= 1 else { throw ValidationError("--judge-max-tokens must be at least 1, got \(judgeMaxTokens)") }
    }

    /// The judge and its client (shut the client down when done), or nil without --judge-url.
    func makeJudge() throws -> (TeacherJudge, ChatCompletionsClient)? {
        guard let judgeURL else { return nil }
        let key = judgeAPIKey ?? ProcessInfo.processInfo.environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let client = try ChatCompletionsClient(configuration: .init(baseURL: judgeURL, apiKey: key, maxConnections: judgeParallel),
                                               logger: Logger(label: "llava.eval.judge"))
        return (TeacherJudge(OpenAITeacher(client: client, model: judgeModel, temperature: judgeTemperature, maxTokens: judgeMaxTokens)), client)
    }
}

struct ScienceQACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scienceqa",
        abstract: "ScienceQA from problems.json + pid_splits.json: the paper's table (NAT SOC LAN TXT IMG NO G1-6 G7-12 Avg); --judge-url adds the judge ensemble.")
    @Option(help: "ScienceQA's data/scienceqa folder: problems.json, pid_splits.json, images/<split>/<id>/.") var baseDir: String
    @Option(help: "The split of pid_splits.json.") var split = "test"
    @Option(help: "Images folder (default: <base-dir>/images/<split>).") var imageFolder: String?
    @Option(help: "With --judge-url: the second model's answers (answers JSONL, or a JSON with an \"outputs\" map of id → text, as the reference's GPT-4 results); without it the judge answers first.")
    var secondAnswers: String?
    @OptionGroup var judgeOptions: JudgeOptions
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply(level: .info)
        let base = try existingFolder(baseDir, flag: "--base-dir")
        let problems = try ScienceQAProblem.load(problems: base.appendingPathComponent("problems.json"),
                                                 splits: base.appendingPathComponent("pid_splits.json"), split: split)
        let images = URL(fileURLWithPath: imageFolder ?? base.appendingPathComponent("images/\(split)").path)
        guard let (answers, model) = try await options.answer(ScienceQA.items(problems, imageFolder: images), benchmark: "scienceqa") else { return }
        let texts = answers.mapValues(\.text)
        let (table, file) = ScienceQA.score(problems, answers: texts)
        try ResultFile.writeJSON(file, to: options.resultsFolder.appendingPathComponent("scienceqa_result.json"))
        try options.report(table.result(model: model), table: table.markdown, answers: answers)
        guard let (judge, client) = try judgeOptions.makeJudge() else { return }
        do {
            try await runEnsemble(problems, answers: answers, judge: judge, model: model)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
    }

    func runEnsemble(_ problems: [ScienceQAProblem], answers: [String: EvaluationAnswer], judge: TeacherJudge, model: String) async throws {
        let texts = answers.mapValues(\.text)
        var ensemble = ScienceQAJudge(judge: judge)
        ensemble.parallel = judgeOptions.judgeParallel
        let outcome = try await ensemble.run(problems, modelAnswers: texts, second: try secondAnswers.map(readSecondAnswers) ?? [:],
                                             secondFile: options.resultsFolder.appendingPathComponent("scienceqa_second.jsonl"),
                                             requeryFile: options.resultsFolder.appendingPathComponent("scienceqa_requery.jsonl"))
        let judged = ScienceQA.score(problems, predictions: outcome.predictions, outputs: texts)
        try ResultFile.writeJSON(judged.file, to: options.resultsFolder.appendingPathComponent("scienceqa_judge_result.json"))
        var result = judged.table.result(model: model, benchmark: "scienceqa-judge")
        result.counts["disagreements"] = outcome.disagreements
        result.counts["unreadable judge replies"] = outcome.unreadable
        result.counts["second model correct"] = outcome.secondModelCorrect
        result.metrics["complement accuracy"] = 100 * Double(problems.filter { outcome.complement[$0.id] == $0.answer }.count) / Double(max(1, problems.count))
        print("\nwith the judge ensemble (\(judgeOptions.judgeModel)):")
        try options.report(result, table: judged.table.markdown, answers: answers)
    }

    /// An answers JSONL ({question_id, text}) or a result JSON with "outputs".
    func readSecondAnswers(_ path: String) throws -> [String: String] {
        let url = URL(fileURLWithPath: path)
        if let top = try? JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], let outputs = top["outputs"] as? [String: String] {
            return outputs
        }
        return Dictionary(try JSONLines.read(url, as: EvaluationAnswer.self).map { ($0.questionID, $0.text) }, uniquingKeysWith: { _, b in b })
    }
}

struct LLaVABenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llava-bench",
        abstract: "LLaVA-Bench (in the wild or COCO): a judge LLM rates the reference and the model answers; relative scores per category and overall.")
    @Option(help: "questions.jsonl.") var questionFile: String
    @Option(help: "context.jsonl (in the wild) or caps_boxes_coco2014_val_80.jsonl (COCO).") var contextFile: String
    @Option(help: "The reference answers (answers_gpt4.jsonl).") var referenceFile: String
    @Option(help: "Folder of the images.") var imageFolder: String
    @Option(help: "rule.json with the judge's instructions (default: LLaVA's, built in).") var rules: String?
    @Option(help: "Judge replies per review before it counts as unparsable.") var reviewAttempts = 3
    @Option(help: "The reviews file, resumed when it exists (default: <results-dir>/llava-bench.reviews.jsonl).") var reviewsFile: String?
    @OptionGroup var judgeOptions: JudgeOptions
    @OptionGroup var options: BenchmarkOptions
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard judgeOptions.judgeURL != nil else { throw ValidationError("LLaVA-Bench needs a judge: give --judge-url") }
        guard reviewAttempts >= 1 else { throw ValidationError("--review-attempts must be at least 1, got \(reviewAttempts)") }
    }

    func run() async throws {
        try runtime.apply(level: .info)
        let (questions, references) = try LLaVABench.load(questions: URL(fileURLWithPath: questionFile), context: URL(fileURLWithPath: contextFile),
                                                          references: URL(fileURLWithPath: referenceFile))
        let images = try existingFolder(imageFolder, flag: "--image-folder")
        guard let (answers, model) = try await options.answer(LLaVABench.items(questions, imageFolder: images), benchmark: "llava-bench") else { return }
        guard let (judge, client) = try judgeOptions.makeJudge() else { return }
        var reviewer = LLaVABenchReviewer(judge: judge)
        reviewer.attempts = reviewAttempts
        reviewer.parallel = judgeOptions.judgeParallel
        if let rules { reviewer.rules = try LLaVABenchRule.load(URL(fileURLWithPath: rules)) }
        let reviewsURL = reviewsFile.map { URL(fileURLWithPath: $0) } ?? options.resultsFolder.appendingPathComponent("llava-bench.reviews.jsonl")
        let reviews: [LLaVABenchReview]
        do {
            reviews = try await reviewer.review(questions, references: references, answers: answers, reviewsFile: reviewsURL)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        let summary = LLaVABenchSummary(reviews)
        var table = ["| category | relative score | reference ×10 | model ×10 | reviews | unparsable |", "|---|---|---|---|---|---|"]
        for key in summary.rows.keys.sorted() {
            let r = summary.rows[key]!
            table.append("| \(key) | \(r.relative) | \(r.reference) | \(r.model) | \(r.count) | \(r.unparsable) |")
        }
        table.append("\nunparsable reviews (after \(reviewAttempts) attempts each, averaged in as [-1, -1]): \(summary.unparsable)")
        try options.report(summary.result(model: model), table: table.joined(separator: "\n"), answers: answers)
    }
}
