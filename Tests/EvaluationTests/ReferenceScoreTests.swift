import Evaluation
import Foundation
import TestSupport
import XCTest

/// Every benchmark's scoring against the numbers the reference's own scoring logic gives on the
/// same sample (`scripts/make_eval_fixtures.py` writes both the samples, in each benchmark's
/// original format, and `expected.json`; regenerate them together).
final class ReferenceScoreTests: XCTestCase {
    struct Expected: Decodable {
        struct SQA: Decodable { let results: [String: Int]; let table: [String: Double?]; let prompt_3: String; let prompt_6_context: String }
        struct POPECat: Decodable { let TP, FP, TN, FN: Int; let accuracy, precision, recall, f1, yes_ratio: Double }
        struct MMESub: Decodable { let acc, acc_plus, score: Double }
        struct MME: Decodable { let subtasks: [String: MMESub]; let perception, cognition: Double; let prompt_artwork_2: String }
        struct MMB: Decodable {
            let circular, circular_judged, single: Double; let questions, asks, unmatched, failed_without_judge: Int
            let judge_replies: [String: [String]]; let matching_prompt_3_1, prompt_2_0: String
        }
        struct VQA: Decodable {
            let scores, vqaeval_scores: [Double]; let accuracy: Double; let per_type: [String: Double]; let normalized, submission: [String]
        }
        struct TextVQA: Decodable { let prompts: [String: String]; let accuracy: Double }
        struct GQA: Decodable { let predictions: [String: String]; let accuracy, open, binary: Double; let balanced: Int }
        struct Bench: Decodable { let summary: [String: [Double]]; let unparsable: [[Double]]; let parsed: [[Double]]; let unparsable_reviews: Int }
        let scienceqa: SQA, pope: [String: POPECat], mme: MME, mmbench: MMB, vqa: VQA, textvqa: TextVQA, gqa: GQA, llava_bench: Bench
    }

    var expected: Expected!
    override func setUpWithError() throws { expected = try Fixtures.json("evaluation/expected.json") }

    func fixture(_ path: String) -> URL { Fixtures.url("evaluation/\(path)") }

    func answers(_ bench: String) throws -> [String: EvaluationAnswer] {
        Dictionary(uniqueKeysWithValues: try JSONLines.read(fixture("\(bench)/answers.jsonl"), as: EvaluationAnswer.self).map { ($0.questionID, $0) })
    }

    func testScienceQAPromptExtractionAndTheCategoryTable() throws {
        let problems = try ScienceQAProblem.load(problems: fixture("scienceqa/problems.json"), splits: fixture("scienceqa/pid_splits.json"), split: "test")
        XCTAssertEqual(problems.map(\.id), ["1", "2", "3", "4", "5", "6", "7", "8"])
        XCTAssertEqual(ScienceQA.prompt(problems[2]), expected.scienceqa.prompt_3)
        XCTAssertTrue(ScienceQA.prompt(problems[5]).hasPrefix(expected.scienceqa.prompt_6_context + "\n"))
        let (table, file) = ScienceQA.score(problems, answers: try answers("scienceqa").mapValues(\.text))
        XCTAssertEqual(file.results, expected.scienceqa.results)
        for (column, value) in expected.scienceqa.table {
            guard let value else { XCTAssertNil(table.cells[column], column); continue }
            XCTAssertEqual(table.cells[column]?.accuracy ?? -1, value, accuracy: 0.005, column)
        }
        XCTAssertEqual(ScienceQATable.columns.filter { table.cells[$0] != nil }.count, expected.scienceqa.table.values.compactMap { $0 }.count)
    }

    func testPOPECountsAndRatiosPerCategory() throws {
        let questions = try POPE.load(folder: fixture("pope/coco"))
        let scores = try POPE.score(questions, answers: try answers("pope"))
        XCTAssertEqual(Set(scores.keys), Set(expected.pope.keys))
        for (c, e) in expected.pope {
            let s = try XCTUnwrap(scores[c])
            XCTAssertEqual([s.truePositives, s.falsePositives, s.trueNegatives, s.falseNegatives], [e.TP, e.FP, e.TN, e.FN], c)
            for (a, b) in zip([s.accuracy, s.precision, s.recall, s.f1, s.yesRatio], [e.accuracy, e.precision, e.recall, e.f1, e.yes_ratio]) {
                XCTAssertEqual(a, b, accuracy: 1e-12, c)
            }
        }
        XCTAssertTrue(POPE.items(questions, imageFolder: URL(fileURLWithPath: "/i"))[0].text.hasSuffix("?\nAnswer the question using a single word or phrase."))
    }

    func testMMEAccuracyPlusAndTotalsFromTheEvalToolFiles() throws {
        let questions = try MME.load(root: fixture("mme"))
        XCTAssertEqual(questions.count, 10)
        let artwork = questions.filter { $0.subtask == "artwork" }
        XCTAssertEqual(artwork[0].imagePath, "artwork/images/10002.jpg")
        XCTAssertEqual(MME.prompt(artwork[1].question), expected.mme.prompt_artwork_2)
        var scores: [String: MME.SubtaskScore] = [:]
        for (name, text) in try MME.resultFiles(questions, answers: try answers("mme")) {
            XCTAssertEqual(text.split(separator: "\n").first?.split(separator: "\t").count, 4)
            scores[name] = try MME.score(resultFile: text, name: name)
        }
        for (name, e) in expected.mme.subtasks {
            let s = try XCTUnwrap(scores[name], name)
            XCTAssertEqual(s.accuracy, e.acc, accuracy: 1e-9, name)
            XCTAssertEqual(s.accuracyPlus, e.acc_plus, accuracy: 1e-9, name)
            XCTAssertEqual(s.score, e.score, accuracy: 1e-9, name)
        }
        let result = MME.result(scores, model: "m")
        XCTAssertEqual(result.metrics["perception"]!, expected.mme.perception, accuracy: 1e-9)
        XCTAssertEqual(result.metrics["cognition"]!, expected.mme.cognition, accuracy: 1e-9)
    }

    func testMMBenchCircularOverShiftedCopiesAndRotations() throws {
        let (table, questions) = try MMBench.load(fixture("mmbench/mmbench_dev.tsv"))
        XCTAssertEqual(questions.map(\.options.count), [4, 3, 2, 2, 2, 3, 4])
        XCTAssertNil(questions[0].hint)
        let items = MMBench.items(questions, rotate: true, source: "tsv")
        XCTAssertEqual(items.count, expected.mmbench.asks)
        XCTAssertEqual(items.first { $0.id == "2/0" }?.text, expected.mmbench.prompt_2_0)
        let chinese = MMBench.items(questions, rotate: false, source: "tsv", chinese: true)
        XCTAssertTrue(chinese[0].text.hasSuffix("\nD. black\n请直接回答选项字母。"), chinese[0].text)   // MMBench-CN (--lang cn)
        XCTAssertTrue(MMBench.matchingPrompt(question: "图中是什么?", options: ["猫", "狗"], prediction: "猫").hasPrefix("你是一个帮助我匹配答案"))
        // Without a judge: "Z" and refusals are read (and wrong); a question with an unread answer fails.
        let s = try MMBench.score(questions, answers: try answers("mmbench"), rotate: true)
        XCTAssertEqual(s.questions, expected.mmbench.questions)
        XCTAssertEqual(percent(s.circularCorrect, s.questions), expected.mmbench.circular, accuracy: 1e-9)
        XCTAssertEqual(percent(s.singleCorrect, s.asks), expected.mmbench.single, accuracy: 1e-9)
        XCTAssertEqual(s.unmatched, expected.mmbench.unmatched)
        XCTAssertEqual(s.failedWithoutJudge, expected.mmbench.failed_without_judge)
        // The upload sheet is a ZIP holding the worksheet with a prediction column.
        let xlsx = try MMBench.submission(table, answers: try answers("mmbench"))
        XCTAssertEqual(Array(xlsx.prefix(4)), [0x50, 0x4b, 0x03, 0x04])
        let text = String(decoding: xlsx, as: UTF8.self)
        XCTAssertTrue(text.contains(">prediction<") && text.contains(">The answer is D.<") == false && text.contains(">A<"), "sheet content")
    }

    /// A scripted judge: MMBench's matching prompt, no system message, three tries, resumable.
    final class ScriptedMatcher: JudgeLLM, @unchecked Sendable {
        let replies: [String: [String]]
        let lock = NSLock()
        var asked: [(system: String, user: String)] = []
        init(_ replies: [String: [String]]) { self.replies = replies }
        func reply(system: String, user: String) async throws -> String {
            lock.withLock {
                asked.append((system, user))
                let prediction = user.components(separatedBy: "\nAnswer: ").last!.components(separatedBy: "\nYour output: ")[0]
                let earlier = asked.filter { $0.user == user }.count - 1
                return replies[prediction]![earlier]
            }
        }
    }

    func testMMBenchJudgeMatchesUnreadAnswersAsMMBenchsEvaluator() async throws {
        let (_, questions) = try MMBench.load(fixture("mmbench/mmbench_dev.tsv"))
        let judge = ScriptedMatcher(expected.mmbench.judge_replies)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("mmbench-matching-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: log) }
        let s = try await MMBenchMatcher(judge: judge).score(questions, answers: try answers("mmbench"), rotate: true, log: log)
        XCTAssertEqual(percent(s.circularCorrect, s.questions), expected.mmbench.circular_judged, accuracy: 1e-9)
        XCTAssertEqual([s.judgeMatched, s.judgeFailed, s.failedWithoutJudge], [2, 1, 0])
        XCTAssertEqual(judge.asked.count, 1 + 1 + 3)   // the last one three times, then counted as failed
        XCTAssertTrue(judge.asked.allSatisfy { $0.system.isEmpty })
        XCTAssertTrue(judge.asked.contains { $0.user == expected.mmbench.matching_prompt_3_1 })
        let again = try await MMBenchMatcher(judge: judge).score(questions, answers: try answers("mmbench"), rotate: true, log: log)
        XCTAssertEqual(again, s)
        XCTAssertEqual(judge.asked.count, 5, "a second run reads the log")
    }

    func percent(_ a: Int, _ b: Int) -> Double { 100 * Double(a) / Double(b) }

    /// VQAv2's local score is vqaEval.py's on the submission's (EvalAI-processed) answers; the
    /// m4c accuracy (TextVQA, VizWiz) normalises both sides always. The sample has human answers
    /// that all agree (vqaEval then matches exactly) and a comma between digits.
    func testVQAAccuracyWithTheOfficialNormalisation() throws {
        let questions = try ShortAnswerBenchmark.loadVQAv2(questions: fixture("vqav2/questions.json"), annotations: fixture("vqav2/annotations.json"))
        XCTAssertEqual(questions[0].image, "COCO_val2014_000000000100.jpg")
        XCTAssertEqual(questions[0].answerType, "number")
        let answers = try answers("vqav2")
        for (i, q) in questions.enumerated() {
            let prediction = answers[q.questionID]!.text
            XCTAssertEqual(VQAAnswerNormalizer.normalize(prediction), expected.vqa.normalized[i], prediction)
            XCTAssertEqual(VQAAccuracy.score(prediction: prediction, humanAnswers: q.humanAnswers!), expected.vqa.scores[i], accuracy: 1e-12, prediction)
            XCTAssertEqual(VQAEval.accuracy(prediction: VQAAnswerNormalizer.normalize(prediction), humanAnswers: q.humanAnswers!),
                           expected.vqa.vqaeval_scores[i], accuracy: 1e-12, prediction)
        }
        XCTAssertNotEqual(expected.vqa.scores, expected.vqa.vqaeval_scores, "the sample tells the two scorers apart")
        let result = try XCTUnwrap(ShortAnswerBenchmark.vqav2.result(questions, answers: answers, model: "m"))
        XCTAssertEqual(result.metrics["accuracy"]!, expected.vqa.accuracy, accuracy: 1e-9)
        for (type, value) in expected.vqa.per_type { XCTAssertEqual(result.metrics["\(type) accuracy"] ?? -1, value, accuracy: 1e-9, type) }
        let all = questions.map(\.questionID) + ["9999"]
        let submission = try JSONSerialization.jsonObject(with: ShortAnswerBenchmark.vqav2.submission(questions, answers: answers, allQuestionIDs: all)) as! [[String: Any]]
        XCTAssertEqual(submission.map { $0["question_id"] as? Int }, all.map { Int($0) })
        XCTAssertEqual(submission.map { $0["answer"] as? String }, expected.vqa.submission + [""])
    }

    /// TextVQA asked with OCR tokens (its own, or the Rosetta file's, or none) in the
    /// `llava_textvqa_val_v051_ocr.jsonl` form, scored as eval_textvqa.py.
    func testTextVQAPromptWithOCRTokensAndM4CAccuracy() throws {
        let url = fixture("textvqa/TextVQA_0.5.1_val.json")
        XCTAssertThrowsError(try ShortAnswerBenchmark.loadTextVQA(url, ocr: true))   // one question has no ocr_tokens
        let questions = try ShortAnswerBenchmark.loadTextVQA(url, ocr: true, ocrFile: fixture("textvqa/TextVQA_Rosetta_OCR_v0.2_val.json"))
        let items = ShortAnswerBenchmark.textvqa.items(questions, imageFolder: URL(fileURLWithPath: "/images"))
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0.text) }), expected.textvqa.prompts)
        XCTAssertEqual(items[0].image, BenchmarkItem.Image.file(URL(fileURLWithPath: "/images/003a8ae2ef43b901.jpg")))
        let plain = try ShortAnswerBenchmark.loadTextVQA(url)
        XCTAssertEqual(ShortAnswerBenchmark.textvqa.prompt(plain[0]), "What is the brand of this camera?\nAnswer the question using a single word or phrase.")
        let result = try XCTUnwrap(ShortAnswerBenchmark.textvqa.result(questions, answers: try answers("textvqa"), model: "m"))
        XCTAssertEqual(result.metrics["accuracy"]!, expected.textvqa.accuracy, accuracy: 1e-9)
    }

    func testGQAExactMatchOpenAndBinary() throws {
        let questions = try GQA.load(fixture("gqa/testdev_balanced_questions.json"))
        let answers = try answers("gqa")
        for q in questions { XCTAssertEqual(GQA.prediction(answers[q.questionID]!.text), expected.gqa.predictions[q.questionID]) }
        let r = try XCTUnwrap(GQA.result(questions, answers: answers, model: "m"))
        XCTAssertEqual(r.metrics["accuracy"]!, expected.gqa.accuracy, accuracy: 1e-9)
        XCTAssertEqual(r.metrics["open"]!, expected.gqa.open, accuracy: 1e-9)
        XCTAssertEqual(r.metrics["binary"]!, expected.gqa.binary, accuracy: 1e-9)
        XCTAssertEqual(r.counts["questions"], expected.gqa.balanced, "eval.py scores only balanced questions")
        let rows = try JSONSerialization.jsonObject(with: GQA.predictions(questions, answers: answers)) as! [[String: String]]
        XCTAssertEqual(rows.first, ["questionId": "201", "prediction": "yes"])
    }

    func testLLaVABenchScoreParsingAndRelativeScores() throws {
        for (i, tuple) in expected.llava_bench.unparsable.enumerated() {
            XCTAssertEqual(tuple, [-1, -1])
            XCTAssertNil(LLaVABench.parseScores(["Score: 8 7", "8  7", "8 7 6", "The scores are 8 and 7."][i]))
        }
        let reviews = try JSONLines.read(fixture("llava-bench/reviews.jsonl"), as: LLaVABenchReview.self)
        for (r, tuple) in zip(reviews, expected.llava_bench.parsed) {
            XCTAssertEqual(LLaVABench.parseScores(r.content) ?? [-1, -1], tuple)
            XCTAssertEqual(r.tuple, tuple)
        }
        // Unparsable reviews ([-1, -1]) are averaged in, as summarize_gpt_review.py does.
        let summary = LLaVABenchSummary(reviews)
        XCTAssertEqual(summary.unparsable, expected.llava_bench.unparsable_reviews)
        XCTAssertGreaterThan(summary.unparsable, 0)
        for (key, e) in expected.llava_bench.summary {
            let row = try XCTUnwrap(summary.rows[key], key)
            XCTAssertEqual([row.relative, row.reference, row.model], e, key)
        }
        XCTAssertEqual(summary.result(model: "m").metrics["overall"], expected.llava_bench.summary["all"]![0])
    }
}
