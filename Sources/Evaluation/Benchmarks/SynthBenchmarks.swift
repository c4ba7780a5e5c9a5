import DataGeneration
import Foundation
import Tensor

/// Benchmarks of the synthetic world (`llava data synth`) in the original formats of POPE, MME
/// and ScienceQA, so the built-in model runs through the same commands as any model:
/// - POPE: every existence question, as `coco_pope_synth.json`;
/// - MME: an `existence` subtask, each image with its positive and its negative existence
///   question (MME's two per image), " Please answer yes or no." appended as MME words them;
/// - ScienceQA: colour, shape and count questions as multiple choice (the answer and three
///   distractors from the world's vocabulary, in a seeded order), subject "natural science",
///   no hint, the image as `images/<split>/<id>/image.png`, grade1 for colour and shape and
///   grade2 for count.
public enum SynthBenchmarks {
    /// Writes the three layouts under `output` from `eval_<split>.jsonl` and the images folder.
    public static func write(questions: [EvalQuestion], imageFolder: URL, output: URL, split: String, seed: UInt64 = 0) throws -> (pope: Int, mme: Int, scienceqa: Int) {
        let fm = FileManager.default
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        // POPE
        let existence = questions.filter { $0.type == .existence }
        let pope = try existence.map { q -> String in
            let o: [String: Any] = ["question_id": q.id, "image": q.image, "text": q.question, "label": q.answer]
            return String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        }
        try ResultFile.writeText(pope.map { $0 + "\n" }.joined(), to: output.appendingPathComponent("pope/coco_pope_synth.json"))
        // MME: images with exactly one yes and one no existence question.
        var mmeImages = 0
        for (image, pair) in Dictionary(grouping: existence, by: \.image).sorted(by: { $0.key < $1.key }) where Set(pair.map(\.answer)) == ["yes", "no"] && pair.count == 2 {
            let stem = image.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ".png", with: "")
            let dir = output.appendingPathComponent("mme/existence")
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            try copy(imageFolder.appendingPathComponent(image), to: dir.appendingPathComponent("\(stem).png"))
            let lines = pair.sorted { $0.answer > $1.answer }.map { "\($0.question) Please answer yes or no.\t\($0.answer == "yes" ? "Yes" : "No")\n" }
            try ResultFile.writeText(lines.joined(), to: dir.appendingPathComponent("\(stem).txt"))
            mmeImages += 1
        }
        // ScienceQA
        var rng = SplitMix64(seed: seed)
        var problems: [String: Any] = [:]
        var ids: [String] = []
        for q in questions {
            guard let pool = distractorPool(q.type), pool.contains(q.answer) else { continue }
            var choices = [q.answer] + pool.filter { $0 != q.answer }.shuffledSeeded(&rng).prefix(3)
            choices = choices.shuffledSeeded(&rng)
            let id = "\(q.id)"
            ids.append(id)
            problems[id] = ["question": q.question, "choices": choices, "answer": choices.firstIndex(of: q.answer)!, "hint": "",
                            "image": "image.png", "subject": "natural science", "topic": "synthetic shapes", "category": q.type.rawValue,
                            "grade": q.type == .count ? "grade2" : "grade1", "lecture": "", "solution": "", "split": split,
                            "task": "closed choice", "skill": q.type.rawValue, "choice": NSNull(), "caption": ""] as [String: Any]
            try copy(imageFolder.appendingPathComponent(q.image), to: output.appendingPathComponent("scienceqa/images/\(split)/\(id)/image.png"))
        }
        try ResultFile.writeData(try JSONSerialization.data(withJSONObject: problems, options: [.sortedKeys]), to: output.appendingPathComponent("scienceqa/problems.json"))
        try ResultFile.writeData(try JSONSerialization.data(withJSONObject: [split: ids], options: [.sortedKeys]), to: output.appendingPathComponent("scienceqa/pid_splits.json"))
        return (pope.count, mmeImages, ids.count)
    }

    static func distractorPool(_ type: QuestionType) -> [String]? {
        switch type {
        case .colour: return ObjectColour.allCases.map(\.rawValue)
        case .shape: return Shape.allCases.map(\.rawValue)
        case .count: return (0...6).map(String.init)
        default: return nil
        }
    }

    static func copy(_ from: URL, to: URL) throws {
        try FileManager.default.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: to.path) { try FileManager.default.removeItem(at: to) }
        guard FileManager.default.fileExists(atPath: from.path) else { throw EvaluationError.missingFile(from.path) }
        try FileManager.default.copyItem(at: from, to: to)
    }
}

extension Array {
    /// Fisher–Yates with the synthetic world's seeded generator (the same seed, the same order).
    func shuffledSeeded(_ rng: inout SplitMix64) -> [Element] {
        var a = self
        guard a.count > 1 else { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
        return a
    }
}
