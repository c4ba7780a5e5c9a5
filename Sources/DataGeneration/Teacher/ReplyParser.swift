import Foundation

/// Question–answer pairs read from a teacher reply, and how many blocks were unusable.
public struct ParsedReply: Sendable, Equatable {
    public var pairs: [QAPair]
    public var malformedBlocks: Int
}

public struct QAPair: Sendable, Equatable, Codable {
    public var question: String
    public var answer: String
    public init(question: String, answer: String) { self.question = question; self.answer = answer }
}

/// Parses the teacher's `Question:\n…\n===\nAnswer:\n…\n===` replies, as LLaVA splits them on
/// `===`. Tolerates extra whitespace, a missing final `===` and a lower-case label; a question
/// without its answer, an answer without its question or an empty text is dropped and counted.
///
/// ```swift
/// let reply = ReplyParser.parse("Question:\nIs there a star?\n===\nAnswer:\nYes.")
/// // reply.pairs == [QAPair(question: "Is there a star?", answer: "Yes.")], reply.malformedBlocks == 0
/// ```
public enum ReplyParser {
    public static func parse(_ text: String) -> ParsedReply {
        let blocks = text.components(separatedBy: "===")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
        var pairs: [QAPair] = []
        var malformed = 0
        var pending: String?
        for block in blocks {
            if let q = body(block, label: "Question:") {
                if pending != nil { malformed += 1 }   // the previous question lost its answer
                pending = q.isEmpty ? nil : q
                if q.isEmpty { malformed += 1 }
            } else if let a = body(block, label: "Answer:") {
                if let q = pending, !a.isEmpty { pairs.append(QAPair(question: q, answer: a)) } else { malformed += 1 }
                pending = nil
            } else {
                malformed += 1
            }
        }
        if pending != nil { malformed += 1 }
        return ParsedReply(pairs: pairs, malformedBlocks: malformed)
    }

    /// The text after `label` if the block starts with it (case-insensitive).
    private static func body(_ block: String, label: String) -> String? {
        guard block.lowercased().hasPrefix(label.lowercased()) else { return nil }
        return String(block.dropFirst(label.count)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A detailed description: the reply itself, trimmed; nil when empty.
    public static func parseDescription(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }
}
