import Foundation
import Tensor

/// A held-out question with its short canonical answer, generated from the ground-truth scene
/// (never through the teacher) with the same wording as the teacher's conversation questions.
public struct EvalQuestion: Codable, Sendable, Equatable {
    public var id: Int
    /// "<split>/<id>.png", relative to the images folder.
    public var image: String
    public var type: QuestionType
    public var question: String
    /// "yes"/"no", a colour, a shape, a number in digits, or a region word.
    public var answer: String

    public init(id: Int, image: String, type: QuestionType, question: String, answer: String) {
        self.id = id; self.image = image; self.type = type; self.question = question; self.answer = answer
    }

    /// LLaVA's eval-input names plus `answer` and `type`.
    enum CodingKeys: String, CodingKey { case id = "question_id", image, type, question = "text", answer }
}

/// Generation, scoring and JSONL files of evaluation questions.
///
/// ```swift
/// let questions = EvalQuestions.questions(for: scene, image: "val/1.png", firstID: 0, seed: 5)
/// EvalQuestions.isCorrect(prediction: "There are 3 circles.", answer: "3", type: .count)   // true
/// ```
public enum EvalQuestions {
    /// Up to one question per type, plus a positive and a negative existence question.
    public static func questions(for scene: Scene, image: String, firstID: Int, seed: UInt64) -> [EvalQuestion] {
        var rng = SplitMix64(seed: seed)
        let facts = SceneFacts(scene: scene)
        var chosen: [PhrasedQuestion] = []
        for type in QuestionType.allCases {
            let candidates = QuestionGenerator.candidates(type, facts, &rng)
            if type == .existence {
                chosen += [candidates.first { $0.shortAnswer == "yes" }, candidates.first { $0.shortAnswer == "no" }].compactMap { $0 }
            } else if let first = candidates.first {
                chosen.append(first)
            }
        }
        return chosen.enumerated().map { i, q in
            EvalQuestion(id: firstID + i, image: image, type: q.type, question: q.question, answer: q.shortAnswer)
        }
    }

    /// Every clear relation between two single objects of the scene, asked once as it is and
    /// once with the opposite relation on the same axis (the two objects in a seeded order, the
    /// same in both): yes and no exactly balanced, both axes as the scenes have them.
    public static func relationQuestions(for scene: Scene, image: String, firstID: Int, seed: UInt64) -> [EvalQuestion] {
        var rng = SplitMix64(seed: seed)
        var out: [EvalQuestion] = []
        for f in SceneFacts(scene: scene).relations {
            let (a, b, actual) = rng.chance(0.5) ? (f.b, f.a, f.relation.opposite) : (f.a, f.b, f.relation)
            for asked in [actual, actual.opposite] {
                let q = Phrasing.relation(a, asked, b, actual: actual)
                out.append(EvalQuestion(id: firstID + out.count, image: image, type: .relation, question: q.question, answer: q.shortAnswer))
            }
        }
        return out
    }

    // MARK: - Scoring

    /// Lower-case words without punctuation; number words become digits, shape plurals and
    /// synonyms their canonical word, "middle"/"centre" become "center".
    public static func normalisedWords(_ text: String) -> [String] {
        let cleaned = String(text.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : " " })
        var words = cleaned.split(separator: " ").map(String.init)
        for i in words.indices {
            let w = words[i]
            if let d = Vocabulary.numberWords[w] { words[i] = d }
            else if let (shape, _) = Vocabulary.shapeNouns[w] { words[i] = shape.rawValue }
            else if w == "middle" || w == "centre" { words[i] = "center" }
        }
        return words
    }

    /// Whether a free-text prediction gives `answer`. Yes/no: the first "yes"/"no" decides, else
    /// a negation ("not", "no", "none") means no (as POPE scores). Count: the first number. Colour,
    /// shape, position: the prediction names exactly one word of that kind, and it is the answer
    /// (naming two colours is wrong even if one of them is right).
    public static func isCorrect(prediction: String, answer: String, type: QuestionType) -> Bool {
        let words = normalisedWords(prediction)
        let expected = normalisedWords(answer).first ?? ""
        switch type {
        case .existence, .relation:
            let decided = words.first { $0 == "yes" || $0 == "no" }
                ?? (words.contains { negations.contains($0) } ? "no" : (words.isEmpty ? "" : "yes"))
            return decided == expected
        case .count:
            return words.first { Int($0) != nil } == expected
        case .colour:
            return Set(words.filter { Vocabulary.colourWords[$0] != nil }) == [expected]
        case .shape:
            return Set(words.filter { Shape(rawValue: $0) != nil }) == [expected]
        case .position:
            return Set(words.filter { Region(rawValue: $0) != nil }) == [expected]
        }
    }

    /// Whether the question names an object by colour and shape ("the red star") whose shape an
    /// object of another colour shares in `scene`: the object cannot be found by its shape alone.
    public static func namesASharedShape(_ question: String, in scene: Scene) -> Bool {
        let words = normalisedWords(question)
        return zip(words, words.dropFirst()).contains { colourWord, shapeWord in
            guard let colour = Vocabulary.colourWords[colourWord], let shape = Shape(rawValue: shapeWord) else { return false }
            return scene.objects.contains { $0.shape == shape && $0.colour != colour }
        }
    }

    private static let negations: Set<String> = ["not", "none", "0", "isnt", "arent", "doesnt", "dont", "cannot", "cant", "nothing"]

    // MARK: - JSONL

    public static func writeJSONL(_ questions: [EvalQuestion], to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for q in questions {
            data.append(try encoder.encode(q))
            data.append(0x0A)
        }
        try data.write(to: url, options: .atomic)
    }

    public static func readJSONL(from url: URL) throws -> [EvalQuestion] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw DataGenerationError.malformedFile(file: url.path, reason: "unreadable: \(error.localizedDescription)")
        }
        var out: [EvalQuestion] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            do { out.append(try JSONDecoder().decode(EvalQuestion.self, from: Data(line.utf8))) } catch {
                throw DataGenerationError.malformedFile(file: url.path, reason: "line \(n + 1): \(error)")
            }
        }
        return out
    }
}
