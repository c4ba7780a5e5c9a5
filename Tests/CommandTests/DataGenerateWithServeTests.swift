import Foundation
import TestSupport
import XCTest

/// `llava serve` (the built-in model) as the teacher of `llava data generate`: a real
/// OpenAI-compatible server on 127.0.0.1, short prompts of the same structure as the shipped
/// ones (the built-in model's context is small), COCO-format files of the shapes world, and the
/// result read by `llava train finetune`. The request bodies themselves are checked against the
/// scripted server in `DataGenerateCommandTests`. Skipped while this build has no `llava serve`.
final class DataGenerateWithServeTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-serve-teacher-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Two images in COCO's two-file format, captions in the built-in model's words.
    func writeCOCO() throws {
        let images: [[String: Any]] = [["id": 1, "file_name": "gray.png", "width": 64, "height": 48],
                                       ["id": 2, "file_name": "rgba.png", "width": 40, "height": 40]]
        for name in ["gray.png", "rgba.png"] {
            try FileManager.default.copyItem(at: Fixtures.url("images/\(name)"), to: dir.appendingPathComponent("images/\(name)"))
        }
        let captions: [[String: Any]] = [
            ["id": 1, "image_id": 1, "caption": "A red circle on the left."], ["id": 2, "image_id": 1, "caption": "A red circle."],
            ["id": 3, "image_id": 2, "caption": "Two blue squares."], ["id": 4, "image_id": 2, "caption": "Blue squares at the top."],
        ]
        let objects: [[String: Any]] = [["id": 1, "image_id": 1, "category_id": 1, "bbox": [4.0, 10.0, 20.0, 20.0]],
                                        ["id": 2, "image_id": 2, "category_id": 2, "bbox": [2.0, 2.0, 10.0, 10.0]]]
        try JSONSerialization.data(withJSONObject: ["images": images, "annotations": captions]).write(to: URL(fileURLWithPath: path("captions.json")))
        try JSONSerialization.data(withJSONObject: ["images": images, "annotations": objects, "categories": [
            ["id": 1, "name": "red circle"], ["id": 2, "name": "blue square"]]]).write(to: URL(fileURLWithPath: path("instances.json")))
    }

    /// The shipped layout with one short example per kind.
    func writePrompts() throws {
        let files = [
            "conversation/system.txt": "Write a conversation about the image as Question: and Answer: blocks split by ===.",
            "conversation/example-1.user.txt": "A green star.",
            "conversation/example-1.assistant.txt": "Question:\nWhat color is the star?\n===\nAnswer:\nThe star is green.\n===",
            "detail/system.txt": "Describe the image in detail.",
            "detail/example-1.user.txt": "A green star.\n\ngreen star: [0.100, 0.100, 0.300, 0.300]",
            "detail/example-1.assistant.txt": "A green star is at the top left.",
            "detail/requests.txt": "Describe the image in detail.",
            "complex/system.txt": "Ask one question that needs reasoning, as Question: and Answer: blocks split by ===.",
            "complex/example-1.user.txt": "A green star.\n\ngreen star: [0.100, 0.100, 0.300, 0.300]",
            "complex/example-1.assistant.txt": "Question:\nIs the star near the top?\n===\nAnswer:\nYes, it is at the top left.\n===",
        ]
        for (name, text) in files {
            let url = dir.appendingPathComponent("prompts/\(name)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    /// Starts `llava serve --port 0`; nil when this build has no serve command.
    func startServe() throws -> (Process, Int)? {
        // Without the subcommand, `--help` still succeeds but prints the root command's usage.
        guard try LLaVAExecutable.run(["serve", "--help"], timeout: 60).stdout.contains("USAGE: llava serve") else { return nil }
        let log = dir.appendingPathComponent("serve.log")
        let process = try LLaVAExecutable.launch(["serve", "--host", "127.0.0.1", "--port", "0", "--model-id", "teacher"], stderr: log)
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, process.isRunning {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on http://127.0.0.1:") }),
               let port = Int(line.split(separator: ":").last ?? "") {
                return (process, port)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        XCTFail("llava serve did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        return nil
    }

    func testLLaVAServeTeachesAndFinetuneReadsTheResult() throws {
        guard let (serve, port) = try startServe() else { throw XCTSkip("this build has no `llava serve`") }
        defer { serve.terminate(); serve.waitUntilExit() }
        try writeCOCO()
        try writePrompts()
        let r = try LLaVAExecutable.run([
            "data", "generate", "--annotations", path("captions.json"), "--instances", path("instances.json"),
            "--kind", "all", "--teacher-url", "http://127.0.0.1:\(port)/v1", "--teacher-model", "teacher",
            "--prompts", path("prompts"), "--out", path("out.jsonl"), "--max-tokens", "48", "--reply-attempts", "2",
            "--concurrency", "2", "--retry-base-delay", "0.1", "--quiet"], timeout: 600)
        XCTAssertEqual(r.status, 0, r.stderr)
        let prompt = r.stderr.split(separator: "\n").first { $0.hasPrefix("tokens this run: prompt ") }
        let promptTokens = prompt.flatMap { Int($0.dropFirst("tokens this run: prompt ".count).prefix { $0.isNumber }) } ?? 0
        XCTAssertGreaterThan(promptTokens, 0, "the server reports usage: \(r.stderr)")
        let lines = ["out.jsonl", "out.rejects.jsonl"].flatMap { name -> [String] in
            ((try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        let ids = try lines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["id"] as! String }
        XCTAssertEqual(ids.sorted(), ["1-complex", "1-conversation", "1-detail", "2-complex", "2-conversation", "2-detail"])
        let records = ((try? String(contentsOfFile: path("out.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n")
        guard !records.isEmpty else { throw XCTSkip("the built-in model wrote no usable reply: \(lines)") }
        let merge = try LLaVAExecutable.run(["data", "merge", path("out.jsonl"), "--out", path("llava.json")])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        let train = try LLaVAExecutable.run([
            "train", "finetune", "--model-name-or-path", Fixtures.url("llama/mha").path,
            "--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path, "--image-folder", path("images"),
            "--data", path("llava.json"), "--output-dir", path("finetune"), "--max-steps", "1", "--batch-size", "1", "--quiet"],
                                            timeout: 300)
        XCTAssertEqual(train.status, 0, train.stderr)
    }
}
