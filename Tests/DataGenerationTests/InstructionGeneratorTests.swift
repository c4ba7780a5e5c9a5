import DataGeneration
import Foundation
import OpenAIClient
import ScriptedOpenAIServer
import XCTest

/// The data engine in process against a scripted OpenAI-compatible server on 127.0.0.1.
final class InstructionGeneratorTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// `n` images with two captions each; the first caption of image `i` is "Scene i. <tag>".
    func images(_ n: Int, tags: [Int: String] = [:]) -> AnnotatedImageSet {
        AnnotatedImageSet(images: (1...n).map { i in
            AnnotatedImage(id: i, path: "\(i).jpg", captions: ["Scene \(i). \(tags[i] ?? "")", "Another view of scene \(i)."],
                           objects: [ContextBox(category: "dog", box: Box(x1: 0.1, y1: 0.2, x2: 0.5, y2: 0.9))])
        }, withoutCaptions: 0, isSynthetic: false, split: nil)
    }

    func generator(_ server: ScriptedOpenAIServer, concurrency: Int = 2) throws -> (InstructionGenerator, ChatCompletionsClient) {
        let client = try ChatCompletionsClient(configuration: .init(
            baseURL: server.baseURL, retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10))))
        let g = InstructionGenerator(teacher: OpenAITeacher(client: client, model: "teacher"), prompts: try BuiltInPrompts.coco.load(),
                                     settings: .init(concurrency: concurrency, replyAttempts: 3, seed: 1))
        return (g, client)
    }

    func files() throws -> (JSONLinesFile, JSONLinesFile) {
        (try JSONLinesFile(url: dir.appendingPathComponent("out.jsonl")), try JSONLinesFile(url: dir.appendingPathComponent("rejects.jsonl")))
    }

    func testWritesEveryItemOnceAndResumesWithNothingToDo() async throws {
        let server = try await ScriptedOpenAIServer { request, _ in TeacherReplies.valid(for: request) }
        let (g, client) = try generator(server, concurrency: 3)
        let items = GenerationItem.items(images(3), kinds: InstructionKind.allCases, seed: 0)
        var (out, rejects) = try files()
        let p = try await g.run(items, output: out, rejects: rejects)
        XCTAssertEqual(p.written, 9)
        XCTAssertEqual(p.usage, TokenUsage(promptTokens: 900, completionTokens: 180))
        (out, rejects) = try files()
        let again = try await g.run(items, output: out, rejects: rejects)
        try await client.shutdown()
        await server.stop()
        XCTAssertEqual(again.total, 0)
        XCTAssertEqual(server.requests.count, 9)
        let records = try JSONLinesFile.read(GeneratedRecord.self, from: out.url)
        XCTAssertEqual(records.map(\.id).sorted(), items.map(\.id).sorted())
        for r in records {
            XCTAssertEqual(r.conversations.first?.from, "human")
            XCTAssertEqual(r.conversations.filter { $0.value.contains("<image>") }.count, 1)
            XCTAssertTrue(r.conversations[0].value.hasPrefix("<image>\n") || r.conversations[0].value.hasSuffix("\n<image>"))
        }
        let detail = try XCTUnwrap(records.first { $0.kind == .detail })
        let request = detail.conversations[0].value.replacingOccurrences(of: "<image>", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(try BuiltInPrompts.coco.load().detailRequests.contains(request), request)
    }

    func testUnusableRepliesAreRetriedThenRejectedWithTheReason() async throws {
        let server = try await ScriptedOpenAIServer { request, _ in
            let context = TeacherReplies.context(of: request)
            if context.contains("REFUSE") { return .chat("I'm sorry, I can't help with that.") }
            if context.contains("FLAKY"), !Self.flakyAnswered.withLock({ let was = $0; $0 = true; return was }) {
                return .chat("Question:\nwhat?\n===\n===")  // malformed once
            }
            if context.contains("BADREQUEST") { return .error(400, "context length exceeded") }
            return TeacherReplies.valid(for: request)
        }
        let (g, client) = try generator(server)
        let set = images(4, tags: [1: "REFUSE", 2: "FLAKY", 3: "BADREQUEST"])
        let items = GenerationItem.items(set, kinds: [.conversation], seed: 0)
        let (out, rejects) = try files()
        let p = try await g.run(items, output: out, rejects: rejects)
        try await client.shutdown()
        await server.stop()
        XCTAssertEqual(p.written, 2)
        XCTAssertEqual(p.rejected, 2)
        let rejected = try JSONLinesFile.read(RejectedItem.self, from: rejects.url).sorted { $0.id < $1.id }
        XCTAssertEqual(rejected.map(\.id), ["1-conversation", "3-conversation"])
        XCTAssertEqual(rejected.map(\.attempts), [3, 3])
        XCTAssertTrue(rejected[0].reason.contains("refusal") && rejected[0].reply.contains("I'm sorry"), rejected[0].reason)
        XCTAssertTrue(rejected[1].reason.contains("400") && rejected[1].reason.contains("context length exceeded"), rejected[1].reason)
        let flaky = try XCTUnwrap(JSONLinesFile.read(GeneratedRecord.self, from: out.url).first { $0.id == "2-conversation" })
        XCTAssertEqual(flaky.usage, TokenUsage(promptTokens: 200, completionTokens: 40), "both attempts are counted")
        let seeds = server.requests.filter { TeacherReplies.context(of: $0).contains("REFUSE") }.compactMap { $0.chat?.seed }
        XCTAssertEqual(Set(seeds).count, 3, "each attempt asks with its own seed")
    }
    static let flakyAnswered = Mutex(false)

    func testAnUnauthorisedTeacherStopsTheRunAndWritesNothing() async throws {
        let server = try await ScriptedOpenAIServer { _, _ in .error(401, "invalid api key") }
        let (g, client) = try generator(server)
        let (out, rejects) = try files()
        do {
            _ = try await g.run(GenerationItem.items(images(5), kinds: [.detail], seed: 0), output: out, rejects: rejects)
            XCTFail("a 401 must stop the run")
        } catch let e as OpenAIClientError {
            guard case .unauthorized = e else { return XCTFail("\(e)") }
        }
        try await client.shutdown()
        await server.stop()
        XCTAssertLessThanOrEqual(server.requests.count, 2, "stops at once, no retries")
        XCTAssertEqual(try Data(contentsOf: out.url).count, 0)
        XCTAssertEqual(try Data(contentsOf: rejects.url).count, 0)
    }

    func testRequestsInFlightAreBoundedByConcurrency() async throws {
        let delay = Duration.milliseconds(300)
        let arrivals = Mutex<[ContinuousClock.Instant]>([])
        let counting = try await ScriptedOpenAIServer { request, _ in
            arrivals.withLock { $0.append(.now) }
            return TeacherReplies.valid(for: request, delay: delay)
        }
        let (g, client) = try generator(counting, concurrency: 3)
        let (out, rejects) = try files()
        let start = ContinuousClock.now
        let p = try await g.run(GenerationItem.items(images(9), kinds: [.detail], seed: 0), output: out, rejects: rejects)
        let elapsed = ContinuousClock.now - start
        try await client.shutdown()
        await counting.stop()
        XCTAssertEqual(p.written, 9)
        XCTAssertLessThan(elapsed, .milliseconds(2700 - 300), "3 at a time should beat one at a time (\(elapsed))")
        let times = arrivals.withLock { $0 }
        let inFlight = times.map { t in times.filter { $0 >= t && $0 < t + delay - .milliseconds(50) }.count }
        XCTAssertLessThanOrEqual(inFlight.max() ?? 0, 3)
    }

    func testSymbolicTeacherMakesTheSyntheticWorldsData() async throws {
        let root = dir.appendingPathComponent("synth")
        try SynthDatasetWriter(output: root, seed: 2).write(SplitSpec.standard(train: 6, val: 0, test: 0))
        let set = try AnnotatedImageSet.read(annotations: root.appendingPathComponent("annotations_train.json"))
        let g = InstructionGenerator(teacher: SymbolicChatTeacher(SymbolicTeacher(seed: 2)), prompts: try BuiltInPrompts.shapes.load(),
                                     settings: .init(concurrency: 2, seed: 2))
        let (out, rejects) = try files()
        let p = try await g.run(GenerationItem.items(set, kinds: InstructionKind.allCases, seed: 2), output: out, rejects: rejects)
        XCTAssertEqual(p.written + p.rejected, 18)
        let rejected = (try? String(contentsOf: rejects.url, encoding: .utf8)) ?? ""
        XCTAssertGreaterThanOrEqual(p.written, 15, "rejects: \(rejected)")
        XCTAssertEqual(p.records[.detail], 6)
    }
}

/// A lock around a value (the standard library's `Mutex` needs newer platforms on macOS).
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
