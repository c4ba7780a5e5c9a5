import ArgumentParser
import DataGeneration
import Foundation
import Logging
import OpenAIClient

/// `llava data generate`: LLaVA's data engine with an LLM teacher behind any OpenAI-compatible API.
struct DataGenerate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Make LLaVA instruction data from COCO-format annotations with a teacher LLM (or the symbolic teacher).",
        discussion: """
            Appends one JSON record per line to --out, and unusable items with their reason to --rejects. \
            Run the same command again to resume: items already in either file are skipped. \
            `llava data merge` then writes the final LLaVA JSON.
            """)

    enum TeacherKind: String, ExpressibleByArgument, CaseIterable { case openai, symbolic }
    enum KindChoice: String, ExpressibleByArgument, CaseIterable { case conversation, detail, complex, all }

    @Option(help: "COCO captions file (captions_*.json), or the synthetic world's annotations_<split>.json.")
    var annotations: String
    @Option(help: "COCO instances file (instances_*.json) with the boxes (default: boxes from --annotations, if any).")
    var instances: String?
    @Option(help: "Put before every image file name in the records (default: '<split>/' for the synthetic world, nothing for COCO).")
    var imagePrefix: String?
    @Option(help: "Kind of data: conversation, detail, complex, or all (each image gets all three).")
    var kind: KindChoice = .all
    @Option(help: "openai: an LLM at --teacher-url; symbolic: the rule-based teacher (synthetic world only).")
    var teacher: TeacherKind = .openai
    @Option(help: "Base URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1 or http://127.0.0.1:8080/v1.")
    var teacherURL: String?
    @Option(help: "Model name sent to the teacher API.")
    var teacherModel: String?
    @Option(help: "Environment variable holding the API key (sent as a bearer token).")
    var apiKeyEnv: String?
    @Option(help: "Folder of prompts (conversation/, detail/, complex/; see `llava data prompts`). Default: the built-in set for the input.")
    var prompts: String?
    @Option(help: "Output JSON Lines file, appended to.")
    var out: String
    @Option(help: "Rejected items with their reasons (default: <out without .jsonl>.rejects.jsonl).")
    var rejects: String?
    @Option(help: "Use at most this many images (drawn with --seed).")
    var limit: Int?
    @Option(help: "Requests in flight at once.")
    var concurrency = 4
    @Option(help: "Random seed: the images drawn, request phrasings, <image> placement, the teacher's seed.")
    var seed: UInt64 = 0
    @Option(help: "Sampling temperature asked of the teacher.")
    var temperature = 0.7
    @Option(help: "Reply length limit asked of the teacher (max_tokens).")
    var maxTokens = 1024
    @Option(help: "Seconds one request may take.")
    var requestTimeout = 300.0
    @Option(help: "Attempts per request on timeouts, connection errors, 429 and 5xx before the run stops.")
    var maxAttempts = 8
    @Option(help: "Seconds before the first retry; doubles each time (with jitter), at most 60.")
    var retryBaseDelay = 1.0
    @Option(help: "Replies asked for per item before it goes to the rejects file.")
    var replyAttempts = 3
    @Flag(help: "No progress line.") var quiet = false
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        if teacher == .openai {
            guard teacherURL != nil else { throw ValidationError("--teacher openai needs --teacher-url") }
            guard teacherModel != nil else { throw ValidationError("--teacher openai needs --teacher-model") }
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be >= 1, got \(limit)") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be >= 1, got \(concurrency)") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be >= 1, got \(maxAttempts)") }
        guard replyAttempts >= 1 else { throw ValidationError("--reply-attempts must be >= 1, got \(replyAttempts)") }
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be > 0, got \(requestTimeout)") }
        guard retryBaseDelay >= 0 else { throw ValidationError("--retry-base-delay must be >= 0, got \(retryBaseDelay)") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be >= 1, got \(maxTokens)") }
    }

    var kinds: [InstructionKind] { kind == .all ? InstructionKind.allCases : [InstructionKind(rawValue: kind.rawValue)!] }

    var rejectsPath: String {
        rejects ?? (out.hasSuffix(".jsonl") ? String(out.dropLast(6)) : out) + ".rejects.jsonl"
    }

    func run() async throws {
        try runtime.apply()
        let input = try AnnotatedImageSet.read(annotations: URL(fileURLWithPath: annotations),
                                               instances: instances.map { URL(fileURLWithPath: $0) }, imagePrefix: imagePrefix)
        if input.withoutCaptions > 0 { printErr("skipping \(input.withoutCaptions) images without captions") }
        let promptSet = try loadPrompts(synthetic: input.isSynthetic)
        let items = GenerationItem.items(input, kinds: kinds, limit: limit, seed: seed)
        let output = try JSONLinesFile(url: URL(fileURLWithPath: out))
        let rejected = try JSONLinesFile(url: URL(fileURLWithPath: rejectsPath))
        if output.repairedBytes > 0 { printErr("\(out): removed a half-written last line (\(output.repairedBytes) bytes)") }
        printErr("\(items.count) items (\(kinds.map(\.rawValue).joined(separator: ", "))); \(output.ids.count) already in \(out), \(rejected.ids.count) in \(rejectsPath)")
        let (chatTeacher, client) = try makeTeacher()
        let generator = InstructionGenerator(teacher: chatTeacher, prompts: promptSet,
                                             settings: .init(concurrency: concurrency, replyAttempts: replyAttempts, seed: seed))
        let meter = ProgressMeter(quiet: quiet)
        let result: GenerationProgress
        do {
            result = try await generator.run(items, output: output, rejects: rejected) { p in
                meter.update("item", p.done, p.total, extra: "\(Self.tokens(p.usage.totalTokens)) tokens | \(p.rejected) rejected")
            }
        } catch {
            meter.finish()
            try? await client?.shutdown()
            printErr("stopped with \(output.ids.count) records in \(out); run the same command again to resume")
            throw error
        }
        meter.finish()
        try? await client?.shutdown()
        report(result, total: output.ids.count)
    }

    func loadPrompts(synthetic: Bool) throws -> PromptSet {
        if let prompts { return try PromptSet.load(from: URL(fileURLWithPath: prompts), kinds: kinds) }
        return try (synthetic ? BuiltInPrompts.shapes : .coco).load()
    }

    func makeTeacher() throws -> (any ChatTeacher, ChatCompletionsClient?) {
        if teacher == .symbolic { return (SymbolicChatTeacher(SymbolicTeacher(seed: seed)), nil) }
        var key: String?
        if let apiKeyEnv {
            guard let value = ProcessInfo.processInfo.environment[apiKeyEnv], !value.isEmpty else {
                throw ValidationError("--api-key-env \(apiKeyEnv): the environment variable is not set")
            }
            key = value
        }
        let retry = RetryPolicy(maxAttempts: maxAttempts, baseDelay: .milliseconds(Int64(retryBaseDelay * 1000)))
        let client = try ChatCompletionsClient(configuration: .init(
            baseURL: teacherURL!, apiKey: key, requestTimeout: .milliseconds(Int64(requestTimeout * 1000)),
            retry: retry, maxConnections: concurrency), logger: Logger(label: "llava.teacher"))
        return (OpenAITeacher(client: client, model: teacherModel!, temperature: temperature, maxTokens: maxTokens), client)
    }

    func report(_ p: GenerationProgress, total: Int) {
        let mix = kinds.map { "\($0.rawValue) \(p.records[$0] ?? 0)" }.joined(separator: ", ")
        printErr("wrote \(p.written) records (\(mix)) to \(out), \(total) in all; rejected \(p.rejected)" + (p.rejected > 0 ? " (see \(rejectsPath))" : ""))
        printErr("tokens this run: prompt \(p.usage.promptTokens), completion \(p.usage.completionTokens), total \(p.usage.totalTokens)")
    }

    static func tokens(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.2fM", Double(n) / 1e6) : n >= 1000 ? String(format: "%.1fk", Double(n) / 1e3) : "\(n)"
    }
}
