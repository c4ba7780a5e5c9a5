import Foundation
import ScriptedOpenAIServer
import TestSupport
import XCTest

/// `llava data generate` and `llava data merge` as a user runs them, with a scripted
/// OpenAI-compatible teacher on 127.0.0.1: COCO's file format in, the paper's requests out,
/// LLaVA JSON that `llava train finetune` reads; a run killed or a server restarted mid-way.
final class DataGenerateCommandTests: XCTestCase {
    static let images = ["photo_500x333.jpg": (500, 333), "gray.png": (64, 48), "rgba.png": (40, 40), "palette.png": (32, 32)]
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-datagen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// `captions.json` and `instances.json` in COCO's format for `count` images (the fixture
    /// images, repeated); image `id` has a "dog" box at [10, 5, 20, 10] pixels.
    func writeCOCO(count: Int) throws {
        var images: [[String: Any]] = [], captions: [[String: Any]] = [], objects: [[String: Any]] = []
        let names = Self.images.keys.sorted()
        for id in 1...count {
            let name = names[(id - 1) % names.count]
            let (w, h) = Self.images[name]!
            if id <= names.count {
                try? FileManager.default.copyItem(at: Fixtures.url("images/\(name)"), to: dir.appendingPathComponent("images/\(name)"))
            }
            images.append(["id": id, "file_name": name, "width": w, "height": h])
            for k in 1...3 { captions.append(["id": id * 10 + k, "image_id": id, "caption": "Picture \(id), view \(k): a dog on grass."]) }
            objects.append(["id": id, "image_id": id, "category_id": 18, "bbox": [10.0, 5.0, 20.0, 10.0], "area": 200.0, "iscrowd": 0])
        }
        let categories: [[String: Any]] = [["id": 18, "name": "dog", "supercategory": "animal"], ["id": 3, "name": "car", "supercategory": "vehicle"]]
        try JSONSerialization.data(withJSONObject: ["info": ["year": 2017], "images": images, "annotations": captions])
            .write(to: dir.appendingPathComponent("captions.json"))
        try JSONSerialization.data(withJSONObject: ["images": images, "annotations": objects, "categories": categories])
            .write(to: dir.appendingPathComponent("instances.json"))
    }

    func generateArguments(_ server: ScriptedOpenAIServer, kind: String = "all", extra: [String] = []) -> [String] {
        ["data", "generate", "--annotations", path("captions.json"), "--instances", path("instances.json"),
         "--kind", kind, "--teacher-url", server.baseURL, "--teacher-model", "scripted-teacher",
         "--out", path("out.jsonl"), "--concurrency", "2", "--retry-base-delay", "0.05", "--quiet"] + extra
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func ids(_ name: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path(name), encoding: .utf8) else { return [] }
        let complete = text[..<(text.lastIndex(of: "\n") ?? text.startIndex)]  // not a half-written line
        return try complete.split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["id"] as! String
        }
    }

    func lineCount(_ name: String) -> Int {
        ((try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "").filter { $0 == "\n" }.count
    }

    /// Waits (bounded) until `name` has `lines` lines.
    func waitForLines(_ name: String, _ lines: Int, process: Process, seconds: Double = 60) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while lineCount(name) < lines {
            guard process.isRunning else { return XCTFail("llava exited early (\(process.terminationStatus))") }
            guard ContinuousClock.now < deadline else { return XCTFail("no \(lines) lines in \(name) after \(seconds) s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func waitForExit(_ process: Process, seconds: Double = 120) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                return XCTFail("llava did not finish within \(seconds) s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func testGeneratesFromCOCOFilesWithThePapersRequestsAndTrainsOnTheResult() async throws {
        try writeCOCO(count: 4)
        let server = try await ScriptedOpenAIServer { request, _ in TeacherReplies.valid(for: request) }
        let r = try LLaVAExecutable.run(generateArguments(server) + ["--image-prefix", ""], timeout: 120)
        await server.stop()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("wrote 12 records") && r.stderr.contains("tokens this run: prompt 1200, completion 240"), r.stderr)
        XCTAssertEqual(try ids("out.jsonl").sorted(), (1...4).flatMap { i in ["complex", "conversation", "detail"].map { "\(i)-\($0)" } }.sorted())

        // The requests: system message, few-shot pairs, then the paper's context.
        XCTAssertEqual(server.requests.count, 12)
        for request in server.requests {
            let chat = try XCTUnwrap(request.chat)
            XCTAssertEqual(chat.model, "scripted-teacher")
            let roles = chat.messages.map(\.role)
            XCTAssertEqual(roles.first, "system")
            XCTAssertEqual(roles.last, "user")
            XCTAssertGreaterThanOrEqual(roles.count, 4, "at least one few-shot example")
            XCTAssertEqual(Array(roles.dropFirst().dropLast()), Array(repeating: ["user", "assistant"], count: (roles.count - 2) / 2).flatMap { $0 })
            let context = chat.messages.last!.content
            let id = Int(context.split(separator: ",")[0].dropFirst("Picture ".count))!
            let (w, h) = Self.images[Self.images.keys.sorted()[(id - 1) % 4]]!
            let captions = (1...3).map { "Picture \(id), view \($0): a dog on grass." }.joined(separator: "\n")
            let box = String(format: "dog: [%.3f, %.3f, %.3f, %.3f]", 10.0 / Double(w), 5.0 / Double(h), 30.0 / Double(w), 15.0 / Double(h))
            switch TeacherReplies.kind(of: request)! {
            case .conversation: XCTAssertEqual(context, captions)
            case .detail, .complex: XCTAssertEqual(context, captions + "\n\n" + box)
            }
        }

        let merge = try LLaVAExecutable.run(["data", "merge", path("out.jsonl"), "--out", path("llava.json")])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        let merged = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("llava.json")))) as! [[String: Any]]
        XCTAssertFalse(merged.isEmpty)
        XCTAssertTrue(merged.allSatisfy { Set($0.keys) == ["id", "image", "conversations"] })

        let train = try LLaVAExecutable.run([
            "train", "finetune", "--model-name-or-path", Fixtures.url("llama/mha").path,
            "--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path, "--image-folder", path("images"),
            "--data", path("llava.json"), "--output-dir", path("finetune"), "--max-steps", "1", "--batch-size", "2", "--quiet"],
                                            timeout: 300)
        XCTAssertEqual(train.status, 0, train.stderr)
    }

    func testAKilledRunResumesWithEveryIdExactlyOnce() async throws {
        try writeCOCO(count: 8)
        let server = try await ScriptedOpenAIServer { request, _ in TeacherReplies.valid(for: request, delay: .milliseconds(100)) }
        let arguments = generateArguments(server, kind: "all")
        let first = try LLaVAExecutable.launch(arguments)
        try await waitForLines("out.jsonl", 5, process: first)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationReason, .uncaughtSignal)
        try await Task.sleep(for: .milliseconds(300))  // requests already sent reach the server
        let before = try ids("out.jsonl")
        XCTAssertLessThan(before.count, 24, "killed before the end")
        let requestsBefore = server.requests.count

        let resumed = try LLaVAExecutable.run(arguments, timeout: 120)
        await server.stop()
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let after = try ids("out.jsonl")
        XCTAssertEqual(after.count, 24)
        XCTAssertEqual(Set(after).count, 24, "every id exactly once")
        XCTAssertEqual(Array(after.prefix(before.count)), before, "earlier lines untouched")
        XCTAssertEqual(try ids("out.rejects.jsonl"), [])
        XCTAssertEqual(server.requests.count - requestsBefore, 24 - before.count, "the resumed run did only what was missing")
    }

    func testARunWaitsForARestartedServerAndCompletes() async throws {
        try writeCOCO(count: 8)
        let server = try await ScriptedOpenAIServer { request, _ in TeacherReplies.valid(for: request, delay: .milliseconds(50)) }
        let log = dir.appendingPathComponent("stderr.txt")
        let run = try LLaVAExecutable.launch(generateArguments(server, kind: "detail", extra: ["--max-attempts", "40"]), stderr: log)
        try await waitForLines("out.jsonl", 2, process: run)
        await server.stop()
        try await Task.sleep(for: .milliseconds(1500))
        XCTAssertTrue(run.isRunning, "the run waits while the server is down")
        try await server.start()
        try await waitForExit(run)
        await server.stop()
        let stderr = try String(contentsOf: log, encoding: .utf8)
        XCTAssertEqual(run.terminationStatus, 0, stderr)
        XCTAssertTrue(stderr.contains("retrying"), "the wait is logged: \(stderr)")
        let out = try ids("out.jsonl")
        XCTAssertEqual(out.sorted(), (1...8).map { "\($0)-detail" }.sorted())
        XCTAssertEqual(try ids("out.rejects.jsonl"), [])
    }

    func testAWrongKeyStopsAtOnceWithAClearMessage() async throws {
        try writeCOCO(count: 3)
        let server = try await ScriptedOpenAIServer { _, _ in .error(401, "Incorrect API key provided") }
        let r = try LLaVAExecutable.run(generateArguments(server), timeout: 60)
        await server.stop()
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("401") && r.stderr.contains("Incorrect API key provided") && r.stderr.contains("--api-key-env"), r.stderr)
        XCTAssertLessThanOrEqual(server.requests.count, 2)
        XCTAssertEqual(lineCount("out.jsonl"), 0)
    }

    func testTheAPIKeyComesFromTheNamedVariable() async throws {
        try writeCOCO(count: 1)
        let server = try await ScriptedOpenAIServer { request, _ in TeacherReplies.valid(for: request) }
        let missing = try LLaVAExecutable.run(generateArguments(server) + ["--api-key-env", "LLAVA_TEST_UNSET_KEY_VARIABLE"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("LLAVA_TEST_UNSET_KEY_VARIABLE"), missing.stderr)
        setenv("LLAVA_TEST_KEY", "sk-from-env", 1)
        let r = try LLaVAExecutable.run(generateArguments(server) + ["--api-key-env", "LLAVA_TEST_KEY"])
        unsetenv("LLAVA_TEST_KEY")
        await server.stop()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Set(server.requests.map { $0.headers["authorization"] ?? "" }), ["Bearer sk-from-env"])
    }

    func testEditedPromptsAreWhatTheTeacherGets() async throws {
        try writeCOCO(count: 1)
        let written = try LLaVAExecutable.run(["data", "prompts", "--out", path("prompts")])
        XCTAssertEqual(written.status, 0, written.stderr)
        try Data("You describe photographs for a museum catalogue.".utf8)
            .write(to: URL(fileURLWithPath: path("prompts/detail/system.txt")))
        let server = try await ScriptedOpenAIServer { request, _ in TeacherReplies.valid(for: request) }
        let r = try LLaVAExecutable.run(generateArguments(server, kind: "detail") + ["--prompts", path("prompts")])
        await server.stop()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(server.requests.first?.chat?.messages.first?.content, "You describe photographs for a museum catalogue.")
    }

    /// The synthetic world through the same command: its own prompts with an LLM teacher, or the
    /// symbolic teacher.
    func testTheSyntheticWorldWithBothTeachers() async throws {
        let synth = try LLaVAExecutable.run(["data", "synth", "--out", path("synth"), "--train", "3", "--val", "0", "--test", "0", "--quiet"])
        XCTAssertEqual(synth.status, 0, synth.stderr)
        let annotations = path("synth/annotations_train.json")
        let server = try await ScriptedOpenAIServer { request, _ in TeacherReplies.valid(for: request) }
        let llm = try LLaVAExecutable.run(["data", "generate", "--annotations", annotations, "--teacher-url", server.baseURL,
                                           "--teacher-model", "m", "--out", path("llm.jsonl"), "--quiet"])
        await server.stop()
        XCTAssertEqual(llm.status, 0, llm.stderr)
        XCTAssertEqual(try ids("llm.jsonl").count, 9)
        XCTAssertTrue(server.requests.allSatisfy { $0.chat?.messages.first?.content.contains("simple flat shapes") == true })
        let symbolic = try LLaVAExecutable.run(["data", "generate", "--annotations", annotations, "--teacher", "symbolic",
                                                "--out", path("symbolic.jsonl"), "--quiet"])
        XCTAssertEqual(symbolic.status, 0, symbolic.stderr)
        XCTAssertEqual(try ids("symbolic.jsonl").count + (try ids("symbolic.rejects.jsonl").count), 9)
        let records = try String(contentsOfFile: path("symbolic.jsonl"), encoding: .utf8)
        XCTAssertTrue(records.contains("\"image\":\"train/"), records)
    }
}
