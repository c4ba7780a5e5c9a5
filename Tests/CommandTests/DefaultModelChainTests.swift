import Foundation
import TestSupport
import XCTest

/// The whole default-model chain at a scale that runs in CI (SCALE=tiny): synthetic world,
/// instruction data, tokenizer, language model, CLIP, stage 1, stage 2, evaluation. Each
/// stage's loss must fall and the result must beat chance on the held-out questions; run again
/// as if stopped, it resumes.
final class DefaultModelChainTests: XCTestCase {
    func losses(_ url: URL) throws -> [Double] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            ((try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["loss"] as! NSNumber).doubleValue
        }
    }

    /// Runs scripts/make_default_model.sh at `scale` (tiny) into `out`; its exit status and log.
    func runChain(_ out: URL, scale: String = "tiny") throws -> (status: Int32, log: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Fixtures.packageRoot.appendingPathComponent("scripts/make_default_model.sh").path, out.path]
        var env = ProcessInfo.processInfo.environment
        env["SCALE"] = scale
        // The release build that scripts/setup.sh makes (CI runs it first) trains several times
        // faster than the debug one; either gives the same numbers.
        let release = Fixtures.packageRoot.appendingPathComponent(".build/release/llava")
        env["LLAVA"] = FileManager.default.isExecutableFile(atPath: release.path) ? release.path : try LLaVAExecutable.url().path
        process.environment = env
        let log = out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + ".log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: log)
        return (process.terminationStatus, text)
    }

    func testTinyChainLearnsBeatsChanceAndResumes() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("llava-chain-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let first = try runChain(out)
        XCTAssertEqual(first.status, 0, String(first.log.suffix(3000)))
        guard first.status == 0 else { return }

        // The chatfree and follow runs continue on images the model has already learnt (their 60
        // steps start near the loss they end at: 0.26 → 0.29 and 0.24 → 0.26 in CI), so they are
        // not checked here; their effect shows in the margins below.
        for stage in ["lm", "clip", "stage1", "llava", "llava-steps1", "llava-described1", "llava-chat1"] {
            let l = try losses(out.appendingPathComponent("\(stage)/metrics.jsonl"))
            let head = l.prefix(3).reduce(0, +) / 3, tail = l.suffix(3).reduce(0, +) / 3
            XCTAssertLessThan(tail, head, "\(stage): loss should fall (first \(l.prefix(3)), last \(l.suffix(3)))")
        }

        // Chance: the share a guesser gets per type (yes/no 1/2; 8 colours; 5 shapes, counts,
        // regions). The tiny chain must beat a guesser by more than two standard deviations of the
        // guesser's own score (about 14 of the 249 questions), free-form and short answer. Measured
        // on the CI machine (2 cores, release build): 104 and 107 right against 77.5 expected,
        // 3.9 and 4.3 deviations (before the follow run: 103 and 110; before the chat runs: 100
        // and 105; a chat run at 1e-3 instead
        // of 5e-4 left 93 free-form, 2.3; before the described and drawn runs: 99 and 100, 3.1
        // and 3.3); 1,500 stage-2 steps gave 2.1 and 3.7, the 500 before 0.5 and -1.3
        // (the thin margin of issue 26): the seeds are fixed, so what moves the score between
        // machines is float rounding, and 3,000 steps leave a deviation of room on both.
        let chance = ["existence": 0.5, "relation": 0.5, "colour": 1.0 / 8, "shape": 0.2, "count": 0.2, "position": 0.2]
        for file in ["eval_test.json", "eval_test_short.json"] {
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent(file))) as! [String: Any]
            let types = report["types"] as! [String: [String: Int]]
            var correct = 0, total = 0, expected = 0.0, variance = 0.0
            for (type, c) in types {
                let p = chance[type] ?? 0
                correct += c["correct"]!
                total += c["total"]!
                expected += Double(c["total"]!) * p
                variance += Double(c["total"]!) * p * (1 - p)
            }
            XCTAssertGreaterThan(total, 0)
            let margin = (Double(correct) - expected) / variance.squareRoot()
            XCTAssertGreaterThan(margin, 2, "\(file): \(correct)/\(total) should beat chance (\(expected)) by > 2 deviations")
        }

        // Run again as if stopped halfway through its last evaluation: only that and the check
        // after it run, the rest are skipped and their times kept, and the answers on file are
        // kept.
        let fm = FileManager.default
        let done = out.appendingPathComponent("steps.done"), timings = out.appendingPathComponent("timings.txt")
        var steps = try String(contentsOf: done, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(steps.suffix(2), ["evaluation (describe_f16)", "f16 check"])
        steps.removeLast(2)
        try (steps.joined(separator: "\n") + "\n").write(to: done, atomically: true, encoding: .utf8)
        let answers = out.appendingPathComponent("answers_describe_f16.jsonl"), check = out.appendingPathComponent("f16_check.txt")
        let allAnswers = try String(contentsOf: answers, encoding: .utf8).split(separator: "\n")
        let kept = allAnswers.prefix(allAnswers.count / 2)
        try (kept.joined(separator: "\n") + "\n").write(to: answers, atomically: true, encoding: .utf8)
        try fm.removeItem(at: out.appendingPathComponent("eval_describe_f16.json"))
        let checkBefore = try String(contentsOf: check, encoding: .utf8)
        try fm.removeItem(at: check)
        let timesBefore = try String(contentsOf: timings, encoding: .utf8).split(separator: "\n")
        let second = try runChain(out)
        XCTAssertEqual(second.status, 0, String(second.log.suffix(3000)))
        for step in steps { XCTAssertTrue(second.log.contains("== \(step): done before"), "\(step) should be skipped") }
        XCTAssertTrue(fm.fileExists(atPath: out.appendingPathComponent("eval_describe_f16.json").path))
        let answersAfter = try String(contentsOf: answers, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(answersAfter.count, allAnswers.count)
        XCTAssertEqual(Array(answersAfter.prefix(kept.count)), Array(kept), "the answers on file should be kept")
        XCTAssertEqual(try String(contentsOf: check, encoding: .utf8), checkBefore)
        XCTAssertTrue(checkBefore.hasPrefix("f16 copy: "), checkBefore)
        let timesAfter = try String(contentsOf: timings, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(Array(timesAfter.prefix(timesBefore.count)), timesBefore)
        XCTAssertEqual(timesAfter.suffix(2).map { $0.hasPrefix("evaluation (describe_f16)") && $0.hasSuffix("resumed") || $0.hasPrefix("f16 check") }, [true, true])

        // Resumed at another scale, the script refuses before it runs a step.
        let other = try runChain(out, scale: "full")
        XCTAssertEqual(other.status, 2, String(other.log.suffix(3000)))
        XCTAssertTrue(other.log.contains("was made with SCALE=tiny SIZE=64, not SCALE=full SIZE=96"), other.log)
        XCTAssertFalse(other.log.contains("== "), other.log)
        XCTAssertEqual(try String(contentsOf: timings, encoding: .utf8).split(separator: "\n"), timesAfter)
    }
}
