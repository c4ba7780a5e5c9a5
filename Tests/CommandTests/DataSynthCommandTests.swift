import Foundation
import TestSupport
import XCTest

/// `llava data synth --render-style`: the same scenes and questions drawn another way, and the
/// settings it refuses.
final class DataSynthCommandTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-synth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func synth(_ out: String, _ extra: [String]) throws -> CommandResult {
        try LLaVAExecutable.run(["data", "synth", "--out", dir.appendingPathComponent(out).path, "--train", "0", "--val", "0",
                                 "--test", "3", "--size", "64", "--seed", "1", "--layout", "grid", "--outline-width", "1.5", "--quiet"] + extra)
    }

    private func file(_ out: String, _ name: String) throws -> Data {
        try Data(contentsOf: dir.appendingPathComponent(out).appendingPathComponent(name))
    }

    /// `plain` writes what no style option writes; `unseen` and explicit settings change the
    /// images only: scenes, eval and relation questions are byte for byte the same.
    func testRenderStylesChangeOnlyThePixels() throws {
        for (out, extra) in [("default", []), ("plain", ["--render-style", "plain"]), ("unseen", ["--render-style", "unseen"]), ("wide", ["--render-style", "wide"]),
                             ("explicit", ["--anti-alias", "1", "--background-gradient", "30:30"])] {
            let r = try synth(out, extra)
            XCTAssertEqual(r.status, 0, "\(out): \(r.stderr)")
        }
        for name in ["scenes_test.json", "eval_test.jsonl", "relations_test.jsonl", "annotations_test.json"] {
            for out in ["plain", "unseen", "wide", "explicit"] { XCTAssertEqual(try file(out, name), try file("default", name), "\(out) \(name)") }
        }
        XCTAssertFalse(try file("default", "relations_test.jsonl").isEmpty)
        for image in ["images/test/1.png", "images/test/2.png", "images/test/3.png"] {
            XCTAssertEqual(try file("plain", image), try file("default", image), image)
            XCTAssertNotEqual(try file("unseen", image), try file("default", image), image)
            XCTAssertNotEqual(try file("wide", image), try file("default", image), image)
            XCTAssertNotEqual(try file("explicit", image), try file("default", image), image)
        }
    }

    /// `llava data vqa --descriptions` adds one grid-walk description record per image after the
    /// short-answer records, and says how many it wrote.
    func testVQADataWithDescriptions() throws {
        XCTAssertEqual(try synth("world", []).status, 0)
        let scenes = dir.appendingPathComponent("world/scenes_test.json").path
        let out = dir.appendingPathComponent("vqa.json")
        let r = try LLaVAExecutable.run(["data", "vqa", "--scenes", scenes, "--out", out.path, "--seed", "1",
                                         "--short-answer-style", "object-first-relation", "--descriptions"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("3 VQA records") && r.stderr.contains("and 3 description records"), r.stderr)
        let records = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [[String: Any]]
        XCTAssertEqual(records.map { $0["id"] as! String }.suffix(3), ["describe-test/1", "describe-test/2", "describe-test/3"])
        let answer = ((records.last!["conversations"] as! [[String: String]])[1])["value"]!
        XCTAssertTrue(answer.contains("Cells by row and column: 12 "), answer)

        // --descriptions-in-conversation puts a description request inside every VQA conversation, after its first question.
        let inside = try LLaVAExecutable.run(["data", "vqa", "--scenes", scenes, "--out", out.path, "--seed", "1",
                                              "--short-answer-style", "object-first-relation", "--descriptions-in-conversation"])
        XCTAssertEqual(inside.status, 0, inside.stderr)
        XCTAssertTrue(inside.stderr.contains("3 VQA records (") && inside.stderr.contains("each with a description request among them"), inside.stderr)
        let conversations = try (JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [[String: Any]]).map {
            ($0["conversations"] as! [[String: String]]).map { $0["value"]! }
        }
        XCTAssertEqual(conversations.count, 3)
        for turns in conversations {
            let at = turns.firstIndex { $0.hasPrefix("The image shows ") }
            XCTAssertNotNil(at, "\(turns)")
            XCTAssertGreaterThanOrEqual(at ?? 0, 3, "\(turns)")
            XCTAssertEqual(turns.filter { $0.contains("Cells by row and column") }.count, 1, "\(turns)")
        }

        // With --questions-per-image 0 it writes only the included records, a description put into
        // each conversation of two or more questions about one of the scenes' images.
        let included = dir.appendingPathComponent("included.json")
        let conversation = #"[{"from": "human", "value": "<image>\nWhat is there?"}, {"from": "gpt", "value": "Shapes."}, "#
            + #"{"from": "human", "value": "How many?"}, {"from": "gpt", "value": "Two."}]"#
        try Data(("[{\"id\": \"a\", \"image\": \"test/1.png\", \"conversations\": \(conversation)},"
            + "{\"id\": \"b\", \"image\": \"other/1.png\", \"conversations\": \(conversation)},"
            + #"{"id": "c", "image": "test/2.png", "conversations": [{"from": "human", "value": "<image>\nWhat is there?"}, {"from": "gpt", "value": "Shapes."}]}]"#).utf8)
            .write(to: included)
        let mixed = try LLaVAExecutable.run(["data", "vqa", "--scenes", scenes, "--out", out.path, "--include", included.path,
                                             "--questions-per-image", "0", "--descriptions-in-conversation"])
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("a description request put into 1 included conversations"), mixed.stderr)
        let written = try (JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [[String: Any]])
        XCTAssertEqual(written.map { $0["id"] as! String }, ["a", "b", "c"])
        XCTAssertEqual(written.map { ($0["conversations"] as! [[String: String]]).count }, [6, 4, 2])
        let a = (written[0]["conversations"] as! [[String: String]]).map { $0["value"]! }
        XCTAssertTrue(a[2...].contains { $0.hasPrefix("The image shows ") }, "\(a)")
        let negative = try LLaVAExecutable.run(["data", "vqa", "--scenes", scenes, "--out", out.path, "--questions-per-image=-1"])
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.stderr.contains("--questions-per-image must be 0 or more, got -1"), negative.stderr)
        let lone = try LLaVAExecutable.run(["data", "vqa", "--scenes", scenes, "--out", out.path, "--free-form-follow-ups"])
        XCTAssertNotEqual(lone.status, 0)
        XCTAssertTrue(lone.stderr.contains("--free-form-follow-ups needs --follow-ups"), lone.stderr)
    }

    func testBadStyleSettingsAreRefusedWithTheFlag() throws {
        let cases: [([String], String)] = [
            (["--render-style", "fancy"], "--render-style must be one of plain, varied, unseen, wide, got 'fancy'"),
            (["--anti-alias", "1,x"], "--anti-alias must be a list like '1,4', got '1,x'"),
            (["--background-texture", "2:1"], "--background-texture must be LO:HI with LO <= HI, got '2:1'"),
            (["--size-jitter", "0.5"], "sizeJitter = 0.5: expected -0.25...0.25"),
        ]
        for (extra, message) in cases {
            let r = try synth("bad", extra)
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains(message), "\(extra): \(r.stderr)")
        }
    }
}
