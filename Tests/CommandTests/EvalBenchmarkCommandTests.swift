import Foundation
import TestSupport
import XCTest

/// `llava eval <benchmark>` end to end with a tiny fixture model on samples the tests write in
/// each benchmark's original format. The model's answers are arbitrary; these tests check the
/// protocol around them (files read, files written in the formats official scripts take,
/// resumption, sharding, errors). The scores themselves are checked against the reference's
/// logic in EvaluationTests/ReferenceScoreTests.
final class EvalBenchmarkCommandTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-eval-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var model: [String] { ["--model", Fixtures.url("llava/hf-mlp2x-default").path, "--max-new-tokens", "3", "--results-dir", path("results")] }
    func path(_ p: String) -> String { dir.appendingPathComponent(p).path }

    func write(_ text: String, _ rel: String) throws {
        let url = dir.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func copyImage(_ name: String, to rel: String) throws {
        let url = dir.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("images/\(name)"), to: url)
    }

    func json(_ rel: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(rel))) }

    func lines(_ rel: String) throws -> [[String: Any]] {
        try String(contentsOf: dir.appendingPathComponent(rel), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CommandResult {
        let r = try LLaVAExecutable.run(["eval"] + args, timeout: 300)
        XCTAssertEqual(r.status, 0, "llava eval \(args.joined(separator: " ")):\n\(r.stderr)", file: file, line: line)
        return r
    }

    // MARK: - ScienceQA

    func writeScienceQA() throws {
        let problems: [String: Any] = [
            "10": ["question": "Which is a mammal?", "choices": ["cat", "trout"], "answer": 0, "hint": "", "image": "image.png",
                   "subject": "natural science", "grade": "grade2", "lecture": "", "solution": "", "split": "test"],
            "11": ["question": "Which word is a noun?", "choices": ["run", "table", "blue"], "answer": 1, "hint": "Read.", "image": NSNull(),
                   "subject": "language science", "grade": "grade8", "lecture": "", "solution": "", "split": "test"],
            "12": ["question": "Which is north?", "choices": ["Ohio", "Maine"], "answer": 1, "hint": "A map.", "image": "image.png",
                   "subject": "social science", "grade": "grade5", "lecture": "", "solution": "", "split": "test"],
        ]
        try write(String(decoding: try JSONSerialization.data(withJSONObject: problems), as: UTF8.self), "sqa/problems.json")
        try write("{\"test\": [\"10\", \"11\", \"12\"], \"train\": []}", "sqa/pid_splits.json")
        try copyImage("gray.png", to: "sqa/images/test/10/image.png")
        try copyImage("rgba.png", to: "sqa/images/test/12/image.png")
    }

    /// The table, the reference's result file (read by ScienceQA's evaluate_acc.py), and the
    /// judge ensemble against a real `llava serve`: the tiny judge never writes "The answer is
    /// X.", so every disagreement keeps the model's answer and is counted unreadable.
    func testScienceQATableResultFileAndJudgeEnsembleWithServe() throws {
        try writeScienceQA()
        let plain = try run(["scienceqa", "--base-dir", path("sqa")] + model)
        XCTAssertTrue(plain.stdout.contains("| NAT | SOC | LAN | TXT | IMG | NO | G1-6 | G7-12 | Avg |"), plain.stdout)
        let result = try json("results/scienceqa_result.json") as! [String: Any]
        XCTAssertEqual((result["results"] as? [String: Int])?.keys.sorted(), ["10", "11", "12"])
        XCTAssertEqual(result["count"] as? Int, 3)
        let answers = try lines("results/scienceqa.answers.jsonl")
        XCTAssertEqual(answers.map { $0["question_id"] as? String }, ["10", "11", "12"])
        XCTAssertEqual(answers[0]["prompt"] as? String, "<image>\nContext: N/A\nQuestion: Which is a mammal?\nOptions: (A) cat (B) trout\nAnswer with the option's letter from the given choices directly.")
        XCTAssertEqual(answers[1]["prompt"] as? String, "Context: Read.\nQuestion: Which word is a noun?\nOptions: (A) run (B) table (C) blue\nAnswer with the option's letter from the given choices directly.")

        let server = try ServerProcess.start(["--model", Fixtures.url("llava/hf-mlp2x-default").path, "--model-id", "judge", "--parallel", "2"])
        defer { server.kill() }
        let judged = try run(["scienceqa", "--base-dir", path("sqa"), "--judge-url", server.baseURL + "/v1", "--judge-model", "judge",
                              "--judge-max-tokens", "4", "--judge-temperature", "0"] + model)
        XCTAssertTrue(judged.stdout.contains("with the judge ensemble (judge)"), judged.stdout)
        let report = try json("results/scienceqa-judge.json") as! [String: Any]
        let counts = report["counts"] as! [String: Int]
        XCTAssertEqual(try lines("results/scienceqa_second.jsonl").count, 3)
        XCTAssertEqual(try lines("results/scienceqa_requery.jsonl").count, counts["disagreements"])
        XCTAssertEqual(counts["unreadable judge replies"], counts["disagreements"])
        let plainAvg = (try json("results/scienceqa.json") as! [String: Any])["metrics"] as! [String: Double]
        XCTAssertEqual((report["metrics"] as! [String: Double])["Avg"], plainAvg["Avg"])
    }

    func testBadScienceQAFieldNamesFileProblemAndField() throws {
        try writeScienceQA()
        var problems = try json("sqa/problems.json") as! [String: Any]
        var p = problems["11"] as! [String: Any]
        p["answer"] = 7
        problems["11"] = p
        try write(String(decoding: try JSONSerialization.data(withJSONObject: problems), as: UTF8.self), "sqa/problems.json")
        let r = try LLaVAExecutable.run(["eval", "scienceqa", "--base-dir", path("sqa")] + model)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("problems.json: problem 11: field 'answer'"), r.stderr)
    }

    // MARK: - Short answers, yes/no, multiple choice

    /// POPE in three files, scored per category; sharding answers one chunk at a time and
    /// scores once the chunks' files are joined; a bad label names its file, line and field.
    func testPOPEChunksAndScores() throws {
        for c in ["random", "popular", "adversarial"] {
            try write("""
                {"question_id": 1, "image": "gray.png", "text": "Is there a dog in the image?", "label": "yes"}
                {"question_id": 2, "image": "rgba.png", "text": "Is there a cat in the image?", "label": "no"}

                """, "pope/coco_pope_\(c).json")
        }
        let images = ["--annotation-dir", path("pope"), "--image-folder", Fixtures.url("images").path]
        _ = try run(["pope"] + images + model + ["--num-chunks", "2", "--chunk-idx", "0", "--answers-file", path("c0.jsonl")])
        _ = try run(["pope"] + images + model + ["--num-chunks", "2", "--chunk-idx", "1", "--answers-file", path("c1.jsonl")])
        XCTAssertEqual(try lines("c0.jsonl").count, 3)
        XCTAssertEqual(try lines("c1.jsonl").count, 3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("results/pope.json")))
        let merged = try String(contentsOfFile: path("c0.jsonl"), encoding: .utf8) + String(contentsOfFile: path("c1.jsonl"), encoding: .utf8)
        try write(merged, "merged.jsonl")
        // Every answer is there: no model is loaded (a bad --model would fail otherwise).
        let r = try run(["pope"] + images + ["--model", path("missing-model"), "--results-dir", path("results"), "--answers-file", path("merged.jsonl")])
        XCTAssertTrue(r.stdout.contains("| adversarial |") && r.stdout.contains("pope f1:"), r.stdout)
        let result = try json("results/pope.json") as! [String: Any]
        XCTAssertEqual((result["counts"] as! [String: Int])["random"], 2)

        try write("{\"question_id\": 1, \"image\": \"gray.png\", \"text\": \"Is there a dog?\", \"label\": \"maybe\"}\n", "pope/coco_pope_random.json")
        let bad = try LLaVAExecutable.run(["eval", "pope"] + images + model)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("coco_pope_random.json: line 1: field 'label'"), bad.stderr)
    }

    /// MME's two layouts; the eval_tool result files, two lines per image.
    func testMMEWritesTheEvalToolFiles() throws {
        try copyImage("gray.png", to: "MME/existence/0001.png")
        try write("Is there a dog in this image? Please answer yes or no.\tYes\nIs there a cat in this image? Please answer yes or no.\tNo\n", "MME/existence/0001.txt")
        try copyImage("photo_444_50x30.jpg", to: "MME/artwork/images/0002.jpg")
        try write("Is this a painting? Please answer yes or no.\tYes\nIs this a photo? Please answer yes or no.\tNo\n", "MME/artwork/questions_answers_YN/0002.txt")
        let r = try run(["mme", "--benchmark-dir", path("MME")] + model)
        XCTAssertTrue(r.stdout.contains("| existence |") && r.stdout.contains("mme perception:"), r.stdout)
        let tool = try String(contentsOfFile: path("results/mme_results/artwork.txt"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(tool.count, 2)
        XCTAssertEqual(tool[0].split(separator: "\t", omittingEmptySubsequences: false).prefix(3).joined(separator: "|"), "0002.txt|Is this a painting? Please answer yes or no.|Yes")
        let prompts = try lines("results/mme.answers.jsonl").map { $0["prompt"] as! String }
        XCTAssertTrue(prompts.contains("Is there a dog in this image?\nAnswer the question using a single word or phrase."), "\(prompts)")
    }

    /// MMBench's TSV with base64 images, all rounds, and the .xlsx upload sheet.
    func testMMBenchAllRoundsAndUploadSheet() throws {
        let image = try Data(contentsOf: Fixtures.url("images/gray.png")).base64EncodedString()
        let header = "index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\tsource\tl2-category\tcomment\tsplit\timage"
        try write([header, "0\tWhat color?\tnan\tgray\tred\tnan\tnan\tA\tattr\ts\tl2\tnan\tdev\t\(image)",
                   "1\tHow many?\tLook.\tone\ttwo\tthree\tnan\tC\tcount\ts\tl2\tnan\tdev\t\(image)"].joined(separator: "\n") + "\n", "mmbench_dev.tsv")
        let r = try run(["mmbench", "--question-file", path("mmbench_dev.tsv"), "--all-rounds"] + model)
        XCTAssertTrue(r.stdout.contains("mmbench circular accuracy:"), r.stdout)
        let answers = try lines("results/mmbench.answers.jsonl")
        XCTAssertEqual(answers.map { $0["question_id"] as! String }, ["0/0", "0/1", "1/0", "1/1", "1/2"])
        XCTAssertEqual(answers[3]["prompt"] as? String, "Look.\nHow many?\nA. two\nB. three\nC. one\nAnswer with the option's letter from the given choices directly.")
        let xlsx = try Data(contentsOf: URL(fileURLWithPath: path("results/mmbench_dev.xlsx")))
        XCTAssertEqual(Array(xlsx.prefix(2)), [0x50, 0x4b])
        let counts = (try json("results/mmbench.json") as! [String: Any])["counts"] as! [String: Int]
        XCTAssertEqual(counts["questions"], 2)
        XCTAssertEqual(counts["asks"], 5)
    }

    /// VQAv2 (val, with annotations), TextVQA, VizWiz and GQA: each submission file, and scores where the split has answers.
    func testShortAnswerBenchmarksWriteTheirSubmissionFiles() throws {
        try copyImage("gray.png", to: "coco/COCO_val2014_000000000042.jpg")
        try write("{\"data_subtype\": \"val2014\", \"questions\": [{\"image_id\": 42, \"question\": \"What color?\", \"question_id\": 420}]}", "vqa_q.json")
        let tenGray = Array(repeating: "{\"answer\": \"gray\"}", count: 10).joined(separator: ",")
        try write("{\"annotations\": [{\"question_id\": 420, \"image_id\": 42, \"answers\": [\(tenGray)]}]}", "vqa_a.json")
        // The submission lists every question of --submission-questions ("" where unanswered).
        try write("{\"data_subtype\": \"test2015\", \"questions\": [{\"image_id\": 42, \"question\": \"What color?\", \"question_id\": 420}, {\"image_id\": 43, \"question\": \"Why?\", \"question_id\": 421}]}", "vqa_all.json")
        _ = try run(["vqav2", "--question-file", path("vqa_q.json"), "--annotation-file", path("vqa_a.json"), "--image-folder", path("coco"),
                     "--submission-questions", path("vqa_all.json")] + model)
        let vqa = try json("results/vqav2_submission.json") as! [[String: Any]]
        XCTAssertEqual(vqa.map { $0["question_id"] as? Int }, [420, 421])
        XCTAssertEqual(vqa.last?["answer"] as? String, "")
        XCTAssertNotNil(try json("results/vqav2.json"))

        try copyImage("gray.png", to: "textvqa/abc.jpg")
        try write("{\"data\": [{\"question_id\": 7, \"image_id\": \"abc\", \"question\": \"What does it say?\", \"answers\": [\"stop\"], \"ocr_tokens\": [\"STOP\", \"sign\"]}]}", "textvqa.json")
        _ = try run(["textvqa", "--question-file", path("textvqa.json"), "--image-folder", path("textvqa")] + model)
        XCTAssertNotNil(try json("results/textvqa.json"))
        XCTAssertEqual(try lines("results/textvqa.answers.jsonl")[0]["prompt"] as? String,
                       "What does it say?\nReference OCR token: STOP, sign\nAnswer the question using a single word or phrase.")

        try copyImage("rgba.png", to: "vizwiz/VizWiz_test_00000000.jpg")
        try write("[{\"image\": \"VizWiz_test_00000000.jpg\", \"question\": \"What is this?\"}]", "vizwiz.json")
        _ = try run(["vizwiz", "--question-file", path("vizwiz.json"), "--image-folder", path("vizwiz")] + model)
        let vizwiz = try json("results/vizwiz_submission.json") as! [[String: String]]
        XCTAssertEqual(vizwiz.first?["image"], "VizWiz_test_00000000.jpg")
        let prompt = try lines("results/vizwiz.answers.jsonl")[0]["prompt"] as? String
        XCTAssertEqual(prompt, "What is this?\nWhen the provided information is insufficient, respond with 'Unanswerable'.\nAnswer the question using a single word or phrase.")

        try copyImage("gray.png", to: "gqa/n1.jpg")
        try write("{\"q1\": {\"imageId\": \"n1\", \"question\": \"Is it gray?\", \"answer\": \"yes\", \"types\": {\"structural\": \"verify\"}}}", "gqa.json")
        _ = try run(["gqa", "--question-file", path("gqa.json"), "--image-folder", path("gqa")] + model)
        let gqa = try json("results/testdev_balanced_predictions.json") as! [[String: String]]
        XCTAssertEqual(gqa.first?["questionId"], "q1")

        let report = try LLaVAExecutable.run(["eval", "report", path("results")])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("| VQAv2 | accuracy |") && report.stdout.contains("| 78.5 |") && report.stdout.contains("| MME | perception | — | 1510.7 |"), report.stdout)
    }
}
