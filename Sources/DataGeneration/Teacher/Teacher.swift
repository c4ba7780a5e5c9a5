import Foundation

/// A text-only teacher LLM (GPT-4 in the paper): it never sees pixels, only the symbolic
/// context of an image, and writes instruction data from it.
///
/// ```swift
/// let prompt = TeacherPrompt(kind: .conversation, captions: captions, boxes: [])
/// let reply = try SymbolicTeacher().complete(system: prompt.system, fewShot: prompt.fewShot, query: prompt.query)
/// ```
public protocol Teacher {
    func complete(system: String, fewShot: [(user: String, assistant: String)], query: String) throws -> String
}

/// The three kinds of LLaVA-Instruct data.
public enum InstructionKind: String, Codable, Sendable, CaseIterable {
    case conversation, detail, complex

    /// Records of each kind in LLaVA-Instruct-158K (58K : 23K : 77K).
    public var referenceCount: Int {
        switch self {
        case .conversation: return 58_000
        case .detail: return 23_000
        case .complex: return 77_000
        }
    }

    /// Whether the context lists boxes as well as captions (the paper: not for conversation).
    public var usesBoxes: Bool { self != .conversation }
}

/// An object box for the context: category name and normalised corners.
public struct ContextBox: Sendable, Equatable {
    public var category: String
    public var box: Box
    public init(category: String, box: Box) { self.category = category; self.box = box }
}

/// Everything the teacher is given for one image and one kind of data.
public struct TeacherPrompt: Sendable {
    public var kind: InstructionKind
    public var system: String
    public var fewShot: [(user: String, assistant: String)]
    public var query: String

    public init(kind: InstructionKind, captions: [String], boxes: [ContextBox]) {
        self.kind = kind
        system = TeacherPrompts.system(kind)
        fewShot = TeacherPrompts.fewShot(kind)
        query = TeacherPrompts.context(captions: captions, boxes: kind.usesBoxes ? boxes : [])
    }
}

/// System messages, few-shot examples and the context format.
public enum TeacherPrompts {
    /// Captions one per line; then, after a blank line, `category: [x1, y1, x2, y2]` per object
    /// with 3 decimals, as in LLaVA's prompts.
    public static func context(captions: [String], boxes: [ContextBox]) -> String {
        var lines = captions
        if !boxes.isEmpty {
            lines.append("")
            lines += boxes.map { b in
                let c = [b.box.x1, b.box.y1, b.box.x2, b.box.y2].map { String(format: "%.3f", $0) }
                return "\(b.category): [\(c.joined(separator: ", "))]"
            }
        }
        return lines.joined(separator: "\n")
    }

    static let shared = """
        You are an AI visual assistant looking at a single image of simple flat shapes (circles, squares, \
        triangles, stars, crosses) in different colors on a plain background. You are given several sentences \
        that describe the image
        """

    public static func system(_ kind: InstructionKind) -> String {
        switch kind {
        case .conversation:
            return shared + """
                . Write a conversation between you and a person asking about this image. Answer as if you see \
                the image yourself, never mention the sentences. Ask about the kinds of objects, their colors, \
                how many there are, where they are and how they lie relative to each other. Only ask questions \
                that have a definite answer from the description, including questions whose answer is no. Keep \
                every answer short: its first sentence states the fact directly.
                Format each turn as "Question:" on its own line, the question, "===", "Answer:" on its own \
                line, the answer, "===".
                """
        case .detail:
            return shared + """
                , and the bounding box of every object as category: [x1, y1, x2, y2], with coordinates from 0 \
                to 1 measured from the top-left corner. Describe the image in detail, as if you see it: every \
                object with its size, color, shape and where it is, and how the objects lie relative to each \
                other. Do not mention coordinates or the sentences. Write plain text.
                """
        case .complex:
            return shared + """
                , and the bounding box of every object as category: [x1, y1, x2, y2], with coordinates from 0 \
                to 1 measured from the top-left corner. Ask one question about the image that needs reasoning \
                over several objects (distances, comparisons, counting after a change), then answer it step by \
                step. The first sentence of the answer states the result; the following sentences explain it \
                using the positions and sizes you see. Do not mention the sentences.
                Format: "Question:" on its own line, the question, "===", "Answer:" on its own line, the answer, "===".
                """
        }
    }

    // Hand-written examples: one scene described twice (captions; captions + boxes).
    static let exampleCaptions = [
        "An image of a large yellow triangle, 2 small blue circles and a green star.",
        "A big yellow triangle on the left, 2 blue discs and a green star at the bottom.",
        "There are 4 objects in the image: a yellow triangle, 2 blue circles and a green star.",
        "A yellow triangle, 2 little blue circles and a green star on a sand background.",
        "A yellow triangle, 2 blue circles and a green star. The yellow triangle is to the left of the green star.",
    ]
    static let exampleBoxes = [
        ContextBox(category: "yellow triangle", box: Box(x1: 0.052, y1: 0.281, x2: 0.365, y2: 0.594)),
        ContextBox(category: "blue circle", box: Box(x1: 0.604, y1: 0.083, x2: 0.771, y2: 0.250)),
        ContextBox(category: "blue circle", box: Box(x1: 0.760, y1: 0.427, x2: 0.927, y2: 0.594)),
        ContextBox(category: "green star", box: Box(x1: 0.406, y1: 0.729, x2: 0.583, y2: 0.906)),
    ]

    public static func fewShot(_ kind: InstructionKind) -> [(user: String, assistant: String)] {
        let user = context(captions: exampleCaptions, boxes: kind.usesBoxes ? exampleBoxes : [])
        switch kind {
        case .conversation:
            return [(user, """
                Question:
                How many circles are there?
                ===
                Answer:
                There are 2 circles.
                ===
                Question:
                What color are the circles?
                ===
                Answer:
                The circles are blue.
                ===
                Question:
                Is there a red square in the image?
                ===
                Answer:
                No, there is no red square in the image.
                ===
                Question:
                Where is the yellow triangle in the image?
                ===
                Answer:
                The yellow triangle is on the left of the image.
                ===
                """)]
        case .detail:
            return [(user, """
                The image shows 4 objects on a sand background. A large yellow triangle is on the left. \
                2 small blue circles are on the right, one above the other. A small green star is at the bottom. \
                The yellow triangle is to the left of the green star.
                """)]
        case .complex:
            return [(user, """
                Question:
                Which object is closest to the top-right corner of the image?
                ===
                Answer:
                A blue circle is closest to the top-right corner. Its center is at about (0.69, 0.17), only \
                0.35 from the corner. The other blue circle is further down at (0.84, 0.51), and the yellow \
                triangle and the green star are on the opposite side of the image, so neither comes closer.
                ===
                """)]
        }
    }
}
