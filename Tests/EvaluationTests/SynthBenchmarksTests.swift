import DataGeneration
import Evaluation
import Foundation
import TestSupport
import XCTest

/// The synthetic world's questions in POPE, MME and ScienceQA layouts, read back by the benchmarks' own loaders.
final class SynthBenchmarksTests: XCTestCase {
    func testLayoutsReadBackThroughEachBenchmarksLoader() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("llava-synth-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let questions = [
            EvalQuestion(id: 0, image: "gray.png", type: .existence, question: "Is there a red star in the image?", answer: "yes"),
            EvalQuestion(id: 1, image: "gray.png", type: .existence, question: "Is there a blue cross in the image?", answer: "no"),
            EvalQuestion(id: 2, image: "rgba.png", type: .colour, question: "What color is the star?", answer: "red"),
            EvalQuestion(id: 3, image: "rgba.png", type: .count, question: "How many circles are there?", answer: "3"),
            EvalQuestion(id: 4, image: "rgba.png", type: .position, question: "Where is the star?", answer: "left"),
        ]
        let n = try SynthBenchmarks.write(questions: questions, imageFolder: Fixtures.url("images"), output: out, split: "test")
        XCTAssertEqual(n.pope, 2); XCTAssertEqual(n.mme, 1); XCTAssertEqual(n.scienceqa, 2)
        let pope = try POPE.load(folder: out.appendingPathComponent("pope"))
        XCTAssertEqual(pope.map(\.label), ["yes", "no"])
        let mme = try MME.load(root: out.appendingPathComponent("mme"))
        XCTAssertEqual(mme.map(\.answer), ["Yes", "No"])
        XCTAssertEqual(MME.prompt(mme[0].question), "Is there a red star in the image?\nAnswer the question using a single word or phrase.")
        let sqa = try ScienceQAProblem.load(problems: out.appendingPathComponent("scienceqa/problems.json"),
                                            splits: out.appendingPathComponent("scienceqa/pid_splits.json"), split: "test")
        XCTAssertEqual(sqa.map { $0.choices[$0.answer] }, ["red", "3"])
        XCTAssertEqual(sqa.map(\.choices.count), [4, 4])
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("scienceqa/images/test/2/image.png").path))
        // The same seed, the same files.
        let again = out.appendingPathComponent("again")
        _ = try SynthBenchmarks.write(questions: questions, imageFolder: Fixtures.url("images"), output: again, split: "test")
        XCTAssertEqual(try Data(contentsOf: again.appendingPathComponent("scienceqa/problems.json")),
                       try Data(contentsOf: out.appendingPathComponent("scienceqa/problems.json")))
    }
}
