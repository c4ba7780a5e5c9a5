import Foundation
import Logging
import OpenAIClient

/// How far a run is, reported after every finished item.
public struct GenerationProgress: Sendable, Equatable {
    /// Items this run had to do (those already in the output or rejects files excluded).
    public var total: Int
    public var written = 0
    public var rejected = 0
    /// Tokens this run spent, failed attempts included.
    public var usage = TokenUsage()
    public var records: [InstructionKind: Int] = [:]

    public var done: Int { written + rejected }
}

/// LLaVA's data engine: for each item, the teacher gets the kind's system message, its few-shot
/// examples and the image's context; its reply is validated, retried when unusable, and written
/// as a LLaVA record, or with its reason to the rejects file. `concurrency` requests are in
/// flight at once. Items already in either file are skipped, so a killed run resumes where it
/// stopped. A failure that no retry can mend (401, 404, a server gone for good) stops the run.
///
/// ```swift
/// let generator = InstructionGenerator(teacher: teacher, prompts: try BuiltInPrompts.coco.load(),
///                                      settings: .init(concurrency: 8, seed: 0))
/// let progress = try await generator.run(items, output: output, rejects: rejects) { print($0.done) }
/// ```
public struct InstructionGenerator: Sendable {
    public struct Settings: Sendable {
        public var concurrency: Int
        /// Replies asked for per item before it is rejected.
        public var replyAttempts: Int
        public var seed: UInt64
        public init(concurrency: Int = 4, replyAttempts: Int = 3, seed: UInt64 = 0) {
            self.concurrency = max(1, concurrency)
            self.replyAttempts = max(1, replyAttempts)
            self.seed = seed
        }
    }

    public var teacher: any ChatTeacher
    public var prompts: PromptSet
    public var settings: Settings
    public var logger: Logger

    public init(teacher: any ChatTeacher, prompts: PromptSet, settings: Settings,
                logger: Logger = Logger(label: "llava.data.generate")) {
        self.teacher = teacher
        self.prompts = prompts
        self.settings = settings
        self.logger = logger
    }

    /// What one item came to.
    enum Outcome: Sendable {
        case record(GeneratedRecord)
        case rejected(RejectedItem)
    }

    /// Runs every item not yet in `output` or `rejects`; returns this run's totals.
    public func run(_ items: [GenerationItem], output: JSONLinesFile, rejects: JSONLinesFile,
                    progress: (GenerationProgress) -> Void = { _ in }) async throws -> GenerationProgress {
        let finished = Set(output.ids).union(rejects.ids)
        var pending = items.filter { !finished.contains($0.id) }[...]
        var state = GenerationProgress(total: pending.count)
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            for _ in 0..<settings.concurrency {
                guard let item = pending.popFirst() else { break }
                group.addTask { try await produce(item) }
            }
            while let outcome = try await group.next() {
                try record(outcome, output: output, rejects: rejects, state: &state)
                progress(state)
                if let item = pending.popFirst() { group.addTask { try await produce(item) } }
            }
        }
        return state
    }

    /// Writes one outcome to its file and counts it.
    func record(_ outcome: Outcome, output: JSONLinesFile, rejects: JSONLinesFile, state: inout GenerationProgress) throws {
        switch outcome {
        case .record(let r):
            try output.append(r, id: r.id)
            state.written += 1
            state.records[r.kind, default: 0] += 1
            state.usage += r.usage ?? TokenUsage()
        case .rejected(let r):
            try rejects.append(r, id: r.id)
            state.rejected += 1
            state.usage += r.usage ?? TokenUsage()
            logger.warning("rejected", metadata: ["id": "\(r.id)", "reason": "\(r.reason)", "attempts": "\(r.attempts)"])
        }
    }

    /// Asks the teacher until a reply passes validation or the attempts run out.
    func produce(_ item: GenerationItem) async throws -> Outcome {
        let messages = prompts.messages(item.kind, context: item.context)
        var usage = TokenUsage()
        var failure = ReplyRejection.empty
        var lastText = ""
        for attempt in 1...settings.replyAttempts {
            let seed = Int(truncatingIfNeeded: deriveSeed(settings.seed, stableHash(item.id), UInt64(attempt)) >> 1)
            let reply: TeacherReply
            do { reply = try await teacher.reply(to: messages, seed: seed) } catch {
                failure = try Self.itemFailure(error)
                logger.info("teacher failed on item", metadata: ["id": "\(item.id)", "attempt": "\(attempt)", "reason": "\(failure)"])
                continue
            }
            usage += reply.usage
            lastText = reply.text
            switch ReplyValidator.validate(reply.text, kind: item.kind, finishReason: reply.finishReason) {
            case .success(let pairs):
                let turns = item.turns(pairs, detailRequests: prompts.detailRequests, seed: settings.seed)
                return .record(GeneratedRecord(id: item.id, kind: item.kind, image: item.image.path, conversations: turns, usage: usage))
            case .failure(let rejection):
                failure = rejection
                logger.info("unusable reply", metadata: ["id": "\(item.id)", "attempt": "\(attempt)", "reason": "\(rejection)"])
            }
        }
        return .rejected(RejectedItem(id: item.id, kind: item.kind, image: item.image.path, reason: failure.description,
                                      attempts: settings.replyAttempts, reply: lastText, usage: usage))
    }

    /// A failure of this item alone (a refused request, an unreadable answer, a symbolic teacher
    /// that finds no objects); anything else — a bad key, a server gone — is rethrown.
    static func itemFailure(_ error: Error) throws -> ReplyRejection {
        if let e = error as? OpenAIClientError, !e.stopsRun { return .teacherFailed(e.description) }
        if let e = error as? TeacherError { return .teacherFailed(e.description) }
        throw error
    }
}
