import Foundation
import Tensor

/// How the short answers of the VQA data are worded.
public enum ShortAnswerStyle: String, Sendable, CaseIterable {
    /// The answer word alone, as LLaVA-1.5's VQA data ("red").
    case word
    /// Colour and shape answers led by the object the question names ("star red" for "What color
    /// is the star?", "red star" for "What shape is the red object?"); other types as `word`.
    /// The token before the answer word is then the attribute to look up among the image tokens.
    /// A small LLM learns that lookup at once (a fresh 2-layer LLaMA on ideal per-object image
    /// features: 100% of colour answers after 250 steps of 16); with the attribute one token
    /// further back ("star is red") it reached 59% in that time, and with the word alone it
    /// stays at the image's most common colour or shape (the unbound baseline) for thousands of steps.
    case objectFirst = "object-first"
    /// As `objectFirst`, and position answers led by the shape of the object asked about ("star
    /// center" for "Where is the red star in the image?"), the token colour answers look up by.
    case objectFirstPosition = "object-first-position"
    /// As `objectFirstPosition`, and relation answers that first place both objects on the
    /// question's axis, each after its shape: "star 1 circle 3 yes" for "Is the red star to the
    /// left of the blue circle?" (quarters of the image counted from the left, or from the top
    /// for above and below). The yes or no then follows from two numbers already written, each
    /// a lookup of the kind position answers make, where a bare "yes" needs both places found
    /// and compared within one token. The evaluation's scorer reads the first yes or no.
    case objectFirstRelation = "object-first-relation"
}

/// The short-answer questions drawn for one scene.
public struct QuestionSet: Sendable, Equatable {
    /// The scene's id (its image is `<prefix><id>.png`).
    public var id: String
    public var questions: [PhrasedQuestion]
    public init(id: String, questions: [PhrasedQuestion]) { self.id = id; self.questions = questions }
}

/// Short-answer visual questions generated from the scene graphs, in the form LLaVA-1.5 adds its
/// academic VQA sets (VQAv2, GQA) to stage 2: several questions about one image in one
/// conversation, each followed by the reference's instruction for a one-word answer, answered by
/// that word alone (or, with `ShortAnswerStyle.objectFirst`, by the object asked about and the
/// word). GQA is itself generated from scene graphs; here the graphs are the world's
/// own ground truth (`scenes_<split>.json`), so the answers are exact. The questions come from the
/// same generator as the held-out evaluation questions, drawn for training scenes only.
public enum ShortAnswerVQA {
    /// The instruction LLaVA-1.5 appends to every short-answer VQA question.
    public static let instruction = "Answer the question using a single word or phrase."

    /// Reads a `scenes_<split>.json` file (scene per image id).
    public static func readScenes(from url: URL) throws -> [String: Scene] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DataGenerationError.malformedFile(file: url.path, reason: "unreadable")
        }
        do { return try JSONDecoder().decode([String: Scene].self, from: data) } catch {
            throw DataGenerationError.malformedFile(file: url.path, reason: "not a scenes file (image id → scene): \(error)")
        }
    }

    /// The questions drawn for each scene, in id order: up to `questionsPerImage`, taken in turn
    /// from each question type (so every type is asked when the scene allows it), in a seeded
    /// order. Scenes with no question are left out. With `followUps`, a question that
    /// `FollowUpConversations` follows up ("How many stars are there?" with one star) is followed
    /// by its follow-up ("And what color is it?"), which then comes on top of the count; the
    /// questions drawn are the same either way.
    public static func questionSets(scenes: [String: Scene], questionsPerImage: Int, seed: UInt64,
                                    followUps: Bool = false) -> [QuestionSet] {
        orderedIDs(scenes).enumerated().compactMap { index, id in
            var rng = SplitMix64(seed: deriveSeed(seed, UInt64(index), 7))
            var questions = draw(SceneFacts(scene: scenes[id]!), count: questionsPerImage, &rng)
            if followUps {
                let table = FollowUpConversations.trainingFollowUps(for: scenes[id]!)
                questions = questions.flatMap { q in [q] + (table[q.question].map { [$0] } ?? []) }
            }
            return questions.isEmpty ? nil : QuestionSet(id: id, questions: questions)
        }
    }

    /// Image ids in numeric order (then by name), the order every generated file lists them in.
    static func orderedIDs(_ scenes: [String: Scene]) -> [String] {
        scenes.keys.sorted { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }
    }

    /// One record per scene, images named `<imagePrefix><id>.png`, in id order, each one
    /// conversation of that scene's `questionSets`.
    public static func records(scenes: [String: Scene], imagePrefix: String, questionsPerImage: Int,
                               seed: UInt64, style: ShortAnswerStyle = .word) -> [LLaVARecord] {
        questionSets(scenes: scenes, questionsPerImage: questionsPerImage, seed: seed).map { record($0, imagePrefix: imagePrefix, style: style) }
    }

    /// Position questions that the shape alone cannot answer, one record each: for every object
    /// alone of its kind whose shape an object of another colour shares ("Where is the red star
    /// in the image?" with a blue star beside it), in id order and then by kind. A model that
    /// finds the object by its shape alone answers half of these by chance; the colour has to
    /// pick the object. Record ids are `vqa-shared-<prefix><id>-<colour>-<shape>`.
    public static func sharedShapePositionRecords(scenes: [String: Scene], imagePrefix: String,
                                                  style: ShortAnswerStyle) -> [LLaVARecord] {
        orderedIDs(scenes).flatMap { id -> [LLaVARecord] in
            let facts = SceneFacts(scene: scenes[id]!)
            return facts.regions.keys.sorted().filter { facts.colours(of: $0.shape).count > 1 }.map { kind in
                var record = record(QuestionSet(id: id, questions: [Phrasing.position(kind, region: facts.regions[kind]!)]),
                                    imagePrefix: imagePrefix, style: style)
                record.id = "vqa-shared-\(imagePrefix)\(id)-\(kind.colour.rawValue)-\(kind.shape.rawValue)"
                return record
            }
        }
    }

    /// The set as one conversation: the image before the first question, every question followed
    /// by `instruction`. With `freeFormFollowUps`, a follow-up and the question before it are
    /// asked as written instead and answered in a sentence ("How many stars are there?" "There
    /// is 1 star." "And what color is it?" "The star is red."), as a user of `llava chat` asks.
    public static func record(_ set: QuestionSet, imagePrefix: String, style: ShortAnswerStyle,
                              freeFormFollowUps: Bool = false) -> LLaVARecord {
        var turns: [LLaVATurn] = []
        for (n, q) in set.questions.enumerated() {
            let next = set.questions.indices.contains(n + 1) ? set.questions[n + 1].question : ""
            let free = freeFormFollowUps && (FollowUpConversations.isFollowUp(q.question) || FollowUpConversations.isFollowUp(next))
            turns.append(LLaVATurn(from: "human", value: (n == 0 ? "<image>\n" : "") + q.question + (free ? "" : "\n" + instruction)))
            turns.append(LLaVATurn(from: "gpt", value: free ? q.answer : q.shortAnswer(style)))
        }
        return LLaVARecord(id: "vqa-\(imagePrefix)\(set.id)", image: "\(imagePrefix)\(set.id).png", conversations: turns)
    }

    /// The scene in words, as a language model can read it without an image: every object as
    /// "a <size> <colour> <shape> <region>" (without the region when `regions` is false), in
    /// reading order (rows of a 4×4 grid top to bottom, left to right within a row: the order of a
    /// 4×4 patch grid). Used to pretrain the LM on looking things up in its context before it
    /// ever sees image tokens.
    public static func sceneInWords(_ scene: Scene, regions: Bool = true) -> String {
        let row = { (o: SceneObject) in Phrasing.quarter(scene.normalisedCentre(o).y) }
        let ordered = scene.objects.sorted { (row($0), $0.centre.x) < (row($1), $1.centre.x) }
        guard !ordered.isEmpty else { return "Nothing." }
        let phrases = ordered.map { o in
            let region = regions ? " " + Region(normalised: scene.normalisedCentre(o)).phrase : ""
            return "a \(o.size.rawValue) \(o.colour.rawValue) \(o.shape.rawValue)\(region)"
        }
        return Vocabulary.capitalised(phrases.joined(separator: ", ")) + "."
    }

    /// One record as a one-line text document for `llava train lm`: the image replaced by the
    /// scene in words, each turn after the role its template gives it ("USER:" / "ASSISTANT:"),
    /// line breaks as spaces.
    public static func textDocument(_ record: LLaVARecord, scene: Scene, regions: Bool = true) -> String {
        let words = sceneInWords(scene, regions: regions)
        return record.conversations.map { turn in
            let value = turn.value.replacingOccurrences(of: "<image>", with: words)
            return (turn.from == "human" ? "USER: " : "ASSISTANT: ") + value
        }.joined(separator: " ").replacingOccurrences(of: "\n", with: " ")
    }

    /// `textDocument` of each set's record, as `records` makes it from the same scenes. With
    /// `place` false the scene in words has no regions and the position and relation questions
    /// are left out (a set left with none gives no document), so a language model pretrained on
    /// the text has never been told where anything is: where an object is can then only be
    /// learnt from the image.
    public static func textDocuments(_ sets: [QuestionSet], scenes: [String: Scene], imagePrefix: String,
                                     style: ShortAnswerStyle, place: Bool = true) -> [String] {
        sets.compactMap { set in
            guard let scene = scenes[set.id] else { return nil }
            var kept = set
            if !place { kept.questions.removeAll { $0.type == .position || $0.type == .relation } }
            guard !kept.questions.isEmpty else { return nil }
            return textDocument(record(kept, imagePrefix: imagePrefix, style: style), scene: scene, regions: place)
        }
    }

    /// Round-robin over the types' shuffled candidates, no question twice.
    static func draw(_ facts: SceneFacts, count: Int, _ rng: inout SplitMix64) -> [PhrasedQuestion] {
        var pools = QuestionType.allCases.map { type -> [PhrasedQuestion] in
            var c = QuestionGenerator.candidates(type, facts, &rng)
            rng.shuffle(&c)
            return c
        }
        var out: [PhrasedQuestion] = [], asked = Set<String>()
        while out.count < count, pools.contains(where: { !$0.isEmpty }) {
            for t in pools.indices where out.count < count && !pools[t].isEmpty {
                let q = pools[t].removeFirst()
                if asked.insert(q.question).inserted { out.append(q) }
            }
        }
        rng.shuffle(&out)
        return out
    }
}
