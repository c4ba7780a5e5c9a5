import Foundation
import Tensor

public enum TeacherError: Error, CustomStringConvertible, Equatable {
    case unknownTask(systemPrefix: String)
    case noObjectsInContext(query: String)

    public var description: String {
        switch self {
        case .unknownTask(let s): return "teacher: the system message asks for no task it knows: \"\(s)…\""
        case .noObjectsInContext(let q): return "teacher: no objects found in the context: \"\(q.prefix(200))\""
        }
    }
}

/// A rule-based stand-in for GPT-4. Like GPT-4 in the paper it reads only text: it recognises the
/// task from the system message, parses the captions and boxes of the query into `SceneFacts`,
/// and answers in the requested format with short, regular sentences. Few-shot examples are
/// accepted and ignored. Deterministic: the same seed and query give the same reply.
///
/// ```swift
/// let teacher = SymbolicTeacher(seed: 1)
/// let reply = try teacher.complete(system: TeacherPrompts.system(.conversation), fewShot: [],
///                                  query: "An image of 2 red circles.")
/// ```
public struct SymbolicTeacher: Teacher, Sendable {
    public var seed: UInt64
    /// Turns per conversation (fewer when the image offers fewer questions).
    public var turns: ClosedRange<Int> = 3...6

    public init(seed: UInt64 = 0) { self.seed = seed }

    public func complete(system: String, fewShot: [(user: String, assistant: String)], query: String) throws -> String {
        let kind = try Self.task(of: system)
        let facts = SceneFacts(parsingContext: query)
        guard !facts.counts.isEmpty else { throw TeacherError.noObjectsInContext(query: query) }
        var rng = SplitMix64(seed: deriveSeed(seed, stableHash(query), stableHash(kind.rawValue)))
        switch kind {
        case .conversation: return Self.format(conversation(facts, &rng))
        case .detail: return TeacherDetail.describe(facts, &rng)
        case .complex: return Self.format([TeacherReasoning.question(facts, &rng)])
        }
    }

    /// The task named by the system message.
    static func task(of system: String) throws -> InstructionKind {
        let s = system.lowercased()
        if s.contains("step by step") { return .complex }
        if s.contains("conversation") { return .conversation }
        if s.contains("in detail") { return .detail }
        throw TeacherError.unknownTask(systemPrefix: String(system.prefix(80)))
    }

    /// Takes questions type by type in a shuffled order, so each conversation mixes types.
    func conversation(_ facts: SceneFacts, _ rng: inout SplitMix64) -> [QAPair] {
        var pools = QuestionType.allCases.map { QuestionGenerator.candidates($0, facts, &rng) }
        rng.shuffle(&pools)
        let wanted = rng.int(in: turns)
        var out: [QAPair] = []
        var asked = Set<String>()
        while out.count < wanted, pools.contains(where: { !$0.isEmpty }) {
            for i in pools.indices where !pools[i].isEmpty && out.count < wanted {
                let q = pools[i].removeFirst()
                if asked.insert(q.question).inserted { out.append(QAPair(question: q.question, answer: q.answer)) }
            }
        }
        return out
    }

    static func format(_ pairs: [QAPair]) -> String {
        pairs.map { "Question:\n\($0.question)\n===\nAnswer:\n\($0.answer)\n===" }.joined(separator: "\n")
    }
}

/// How the teacher names objects and positions from boxes.
enum BoxReading {
    /// Box width or height above this (normalised) reads as a large object.
    static let largeThreshold = 0.205

    static func size(_ b: Box) -> ObjectSize { max(b.width, b.height) > largeThreshold ? .large : .small }

    /// "the red circle" for a single object, "a red circle" when there are several.
    static func name(_ kind: ObjectKind, _ facts: SceneFacts) -> String {
        facts.counts[kind] == 1 ? "the \(kind.name)" : "\(Vocabulary.article(for: kind.name)) \(kind.name)"
    }

    static func coordinates(_ p: Point) -> String { String(format: "(%.2f, %.2f)", p.x, p.y) }
}

/// Detailed descriptions from boxes (captions when there are none).
enum TeacherDetail {
    static func describe(_ facts: SceneFacts, _ rng: inout SplitMix64) -> String {
        let background = facts.background.map { "on a \($0) background" } ?? "on a plain background"
        let total = facts.total
        var sentences = [total == 1 ? "The image shows 1 object \(background)." : "The image shows \(total) objects \(background)."]
        if facts.boxes.isEmpty {
            for kind in facts.kinds {
                let n = facts.counts[kind]!
                let phrase = Vocabulary.countedPhrase(count: n, words: n == 1 ? kind.name : kind.pluralName)
                let place = facts.regions[kind].map { " is \($0.phrase)" } ?? (n == 1 ? " is visible" : " are visible")
                sentences.append(Vocabulary.capitalised(phrase + place) + ".")
            }
        } else {
            // Reading order of a 4×4 grid (rows of quarters top to bottom, left to right within
            // a row), the order of a 4×4 patch grid, so a description follows the patches; ordering
            // by the exact centre let the objects of one row come in any order. (Six stage-2
            // epochs on it did not stop the built-in model repeating objects: docs/built-in-model.md.)
            let ordered = facts.boxes.sorted { (Phrasing.quarter($0.box.centre.y), $0.box.centre.x) < (Phrasing.quarter($1.box.centre.y), $1.box.centre.x) }
            for (kind, box) in ordered {
                let words = "\(BoxReading.size(box).rawValue) \(kind.name)"
                sentences.append(Vocabulary.capitalised("\(Vocabulary.article(for: words)) \(words) is \(Region(normalised: box.centre).phrase).") )
            }
        }
        var relations = relationFacts(facts)
        rng.shuffle(&relations)
        for f in relations.prefix(2) { sentences.append("The \(f.a.name) is \(f.relation.rawValue) the \(f.b.name).") }
        return sentences.joined(separator: " ")
    }

    /// Relations between single objects, from boxes when given.
    static func relationFacts(_ facts: SceneFacts) -> [SceneFacts.RelationFact] {
        let singles = facts.boxes.filter { facts.counts[$0.kind] == 1 }
        guard !singles.isEmpty else { return facts.relations }
        var out: [SceneFacts.RelationFact] = []
        for i in singles.indices {
            for j in singles.indices where j > i {
                if let r = Relation(from: singles[i].box.centre, to: singles[j].box.centre) {
                    out.append(.init(a: singles[i].kind, relation: r, b: singles[j].kind))
                }
            }
        }
        return out
    }
}
