import Foundation
import OpenAIClient

/// A hand-written example for the teacher: a context (user turn) and the reply wanted for it.
public struct FewShotExample: Sendable, Equatable {
    public var user: String
    public var assistant: String
    public init(user: String, assistant: String) { self.user = user; self.assistant = assistant }
}

/// What the teacher is told for one kind of data.
public struct KindPrompt: Sendable, Equatable {
    public var system: String
    public var examples: [FewShotExample]
    public init(system: String, examples: [FewShotExample]) { self.system = system; self.examples = examples }
}

/// The teacher's prompts for every kind, and the phrasings of the detailed-description request.
/// Read from a folder a user can edit:
///
/// ```
/// DIR/conversation/system.txt              the system message
/// DIR/conversation/example-1.user.txt      a context (captions; boxes too for detail, complex)
/// DIR/conversation/example-1.assistant.txt the reply wanted for it
/// DIR/conversation/example-2.user.txt      … as many examples as wanted, numbered from 1
/// DIR/detail/…                             the same files, and
/// DIR/detail/requests.txt                  one request phrasing per line ("Describe the image in detail.")
/// DIR/complex/…
/// ```
///
/// ```swift
/// let prompts = try PromptSet.load(from: URL(fileURLWithPath: "my-prompts"), kinds: [.detail])
/// let messages = prompts.messages(.detail, context: "A dog on a couch.\n\ndog: [0.100, 0.200, 0.500, 0.900]")
/// ```
public struct PromptSet: Sendable, Equatable {
    public var kinds: [InstructionKind: KindPrompt]
    /// Requests for a detailed description; one is drawn for each detail record.
    public var detailRequests: [String]

    public init(kinds: [InstructionKind: KindPrompt], detailRequests: [String]) {
        self.kinds = kinds
        self.detailRequests = detailRequests
    }

    /// The chat sent to the teacher: the system message, each example as a user and an
    /// assistant turn, then the image's context as the last user turn.
    public func messages(_ kind: InstructionKind, context: String) -> [ChatMessage] {
        guard let prompt = kinds[kind] else { preconditionFailure("no prompt for \(kind) (load it first)") }
        return [.system(prompt.system)]
            + prompt.examples.flatMap { [ChatMessage.user($0.user), .assistant($0.assistant)] }
            + [.user(context)]
    }

    // MARK: - Files

    /// Reads the prompts of `kinds` from `dir` (layout above). Every file must exist and hold text.
    public static func load(from dir: URL, kinds: [InstructionKind]) throws -> PromptSet {
        var set = PromptSet(kinds: [:], detailRequests: [])
        for kind in kinds {
            let folder = dir.appendingPathComponent(kind.rawValue)
            let system = try readText(folder.appendingPathComponent("system.txt"))
            set.kinds[kind] = KindPrompt(system: system, examples: try readExamples(folder))
            if kind == .detail {
                let file = folder.appendingPathComponent("requests.txt")
                set.detailRequests = try readText(file).split(whereSeparator: \.isNewline)
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
        }
        return set
    }

    /// Writes every kind this set holds in the layout `load` reads.
    public func write(to dir: URL) throws {
        for (kind, prompt) in kinds {
            let folder = dir.appendingPathComponent(kind.rawValue)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try writeText(prompt.system, folder.appendingPathComponent("system.txt"))
            for (i, example) in prompt.examples.enumerated() {
                try writeText(example.user, folder.appendingPathComponent("example-\(i + 1).user.txt"))
                try writeText(example.assistant, folder.appendingPathComponent("example-\(i + 1).assistant.txt"))
            }
            if kind == .detail {
                try writeText(detailRequests.joined(separator: "\n"), folder.appendingPathComponent("requests.txt"))
            }
        }
    }

    /// `example-N.user.txt` with `example-N.assistant.txt`, N = 1, 2, … until the first gap.
    static func readExamples(_ folder: URL) throws -> [FewShotExample] {
        var examples: [FewShotExample] = []
        let fm = FileManager.default
        while true {
            let n = examples.count + 1
            let user = folder.appendingPathComponent("example-\(n).user.txt")
            let assistant = folder.appendingPathComponent("example-\(n).assistant.txt")
            let hasUser = fm.fileExists(atPath: user.path), hasAssistant = fm.fileExists(atPath: assistant.path)
            guard hasUser || hasAssistant else { break }
            guard hasUser && hasAssistant else {
                throw DataGenerationError.malformedFile(file: (hasUser ? assistant : user).path,
                                                        reason: "missing: every example needs a .user.txt and an .assistant.txt")
            }
            examples.append(FewShotExample(user: try readText(user), assistant: try readText(assistant)))
        }
        return examples
    }

    /// A file's text, trimmed; a missing or empty file is an error naming it.
    static func readText(_ url: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DataGenerationError.malformedFile(file: url.path, reason: "missing or unreadable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataGenerationError.malformedFile(file: url.path, reason: "not UTF-8 text")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw DataGenerationError.malformedFile(file: url.path, reason: "empty") }
        return trimmed
    }

    private func writeText(_ text: String, _ url: URL) throws {
        try Data((text + "\n").utf8).write(to: url, options: .atomic)
    }
}

/// The prompt sets that ship with the package.
public enum BuiltInPrompts: String, CaseIterable, Sendable {
    /// Photographs with COCO captions and boxes (files under `Sources/DataGeneration/Prompts/coco`).
    case coco
    /// The synthetic shapes world (the same prompts as `llava data instruct`).
    case shapes

    public func load() throws -> PromptSet {
        switch self {
        case .coco:
            guard let root = Bundle.module.url(forResource: "Prompts", withExtension: nil) else {
                throw DataGenerationError.malformedFile(file: "Prompts", reason: "the package's prompt resources are missing from this build")
            }
            return try PromptSet.load(from: root.appendingPathComponent(rawValue), kinds: InstructionKind.allCases)
        case .shapes:
            var kinds: [InstructionKind: KindPrompt] = [:]
            for kind in InstructionKind.allCases {
                kinds[kind] = KindPrompt(system: TeacherPrompts.system(kind),
                                         examples: TeacherPrompts.fewShot(kind).map { FewShotExample(user: $0.user, assistant: $0.assistant) })
            }
            return PromptSet(kinds: kinds, detailRequests: InstructionDataBuilder.detailRequests)
        }
    }
}
