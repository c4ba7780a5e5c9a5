import Foundation

/// Why a teacher reply was not used.
public enum ReplyRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    /// The server stopped at the token limit (`finish_reason` "length").
    case truncated
    /// No `Question:`/`Answer:` pair in a reply that needs them.
    case noQuestionAnswerPairs
    /// Blocks that are not a question followed by its answer.
    case malformedBlocks(Int)
    /// A detailed description written as question/answer blocks.
    case blocksInDescription
    /// The teacher refused, apologised or would not commit to an answer.
    case refusalOrUncertain(phrase: String)
    /// The reply gives away that the teacher read text instead of seeing an image.
    case mentionsContext(phrase: String)
    /// The request itself failed for this item (the server refused it, or its answer was unreadable).
    case teacherFailed(String)

    public var description: String {
        switch self {
        case .empty: return "empty reply"
        case .truncated: return "reply cut at the token limit (finish_reason: length)"
        case .noQuestionAnswerPairs: return "no Question:/Answer: pair"
        case .malformedBlocks(let n): return "\(n) malformed Question/Answer block\(n == 1 ? "" : "s")"
        case .blocksInDescription: return "a description written as Question/Answer blocks"
        case .refusalOrUncertain(let p): return "refusal or uncertain answer (\"\(p)\")"
        case .mentionsContext(let p): return "mentions the text it was given (\"\(p)\")"
        case .teacherFailed(let reason): return "teacher request failed: \(reason)"
        }
    }
}

/// Checks a teacher reply against what the paper asks of it and extracts its content:
/// question/answer pairs for conversation and complex reasoning (one pair), the text for a
/// detailed description. Prose before the first `Question:` and after the last closed block is
/// ignored; markdown bold around the labels is accepted.
///
/// ```swift
/// let pairs = try ReplyValidator.validate("Sure!\nQuestion:\nWhat is it?\n===\nAnswer:\nA dog.\n===",
///                                         kind: .conversation).get()
/// // [QAPair(question: "What is it?", answer: "A dog.")]
/// ```
public enum ReplyValidator {
    /// Phrases that give away the symbolic context (lower case).
    public static let contextPhrases = [
        "caption", "coordinate", "bounding box", "bbox", "the description", "given description",
        "provided description", "described in the", "the sentences", "the given text", "the provided text",
        "the text provided", "the annotations",
    ]
    /// Phrases of a refusal or a non-answer (lower case; apostrophes normalised to ').
    public static let refusalPhrases = [
        "i'm sorry", "i am sorry", "i apologize", "i cannot", "i can't", "i'm unable", "i am unable",
        "as an ai", "language model", "cannot be determined", "can't be determined", "not possible to determine",
        "impossible to tell", "cannot tell", "can't tell", "unable to see",
    ]

    /// The content of `reply` for `kind`: pairs, or one pair with an empty question holding a
    /// description (the request phrasing is drawn later).
    public static func validate(_ reply: String, kind: InstructionKind, finishReason: String? = nil) -> Result<[QAPair], ReplyRejection> {
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return .failure(.empty) }
        if finishReason == "length" { return .failure(.truncated) }
        if let p = firstPhrase(refusalPhrases, in: text) { return .failure(.refusalOrUncertain(phrase: p)) }
        if let p = firstPhrase(contextPhrases, in: text) { return .failure(.mentionsContext(phrase: p)) }
        if kind == .detail { return description(text) }
        let labelled = normaliseLabels(text)
        guard labelled.range(of: #"(^|\n)Question:"#, options: [.regularExpression, .caseInsensitive]) != nil else {
            return .failure(.noQuestionAnswerPairs)
        }
        let parsed = ReplyParser.parse(blocksOnly(labelled))
        guard parsed.malformedBlocks == 0 else { return .failure(.malformedBlocks(parsed.malformedBlocks)) }
        guard !parsed.pairs.isEmpty else { return .failure(.noQuestionAnswerPairs) }
        return .success(kind == .complex ? [parsed.pairs[0]] : parsed.pairs)
    }

    static func description(_ text: String) -> Result<[QAPair], ReplyRejection> {
        let labels = normaliseLabels(text).lowercased()
        if labels.contains("===") || labels.hasPrefix("question:") || labels.contains("\nquestion:") {
            return .failure(.blocksInDescription)
        }
        return .success([QAPair(question: "", answer: text)])
    }

    /// The first phrase found in `text` (case-insensitive, curly apostrophes as straight ones).
    static func firstPhrase(_ phrases: [String], in text: String) -> String? {
        let lower = text.lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
        return phrases.first { lower.contains($0) }
    }

    /// `**Question:**`, `## Answer:` and the like as plain `Question:` / `Answer:` at line starts.
    static func normaliseLabels(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var l = line.trimmingCharacters(in: .whitespaces)
            let bare = l.trimmingCharacters(in: CharacterSet(charactersIn: "*#_ "))
            for label in ["Question:", "Answer:"] where bare.lowercased().hasPrefix(label.lowercased()) {
                let rest = bare.dropFirst(label.count).trimmingCharacters(in: CharacterSet(charactersIn: "*_ "))
                l = label + (rest.isEmpty ? "" : "\n" + rest)
            }
            return l
        }.joined(separator: "\n")
    }

    /// The text from the first `Question:` line to the `===` closing the last answer: a preamble
    /// ("Here is a conversation:") and a closing remark after the last block are not blocks.
    static func blocksOnly(_ text: String) -> String {
        guard let start = text.range(of: #"(^|\n)Question:"#, options: [.regularExpression, .caseInsensitive]) else { return text }
        var body = String(text[start.lowerBound...])
        if let lastAnswer = body.range(of: "\nAnswer:", options: [.caseInsensitive, .backwards]),
           let close = body.range(of: "===", range: lastAnswer.upperBound..<body.endIndex) {
            body = String(body[..<close.upperBound])
        }
        return body
    }
}
