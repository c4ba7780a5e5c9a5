import Foundation
import TestSupport
import XCTest

/// `llava generate` runs llama.cpp's GGUF files (`--model FILE.gguf --mmproj FILE.gguf`, or a
/// folder holding them) and refuses hostile ones with the file named, never a crash.
final class GGUFCommandTests: XCTestCase {
    func json(_ r: CommandResult) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    func testGGUFPairAnswersAsTheOriginalCheckpoint() throws {
        let common = ["generate", "--image", Fixtures.url("images/photo_500x333.jpg").path, "--prompt", "What is shown?",
                      "--conv-mode", "llava_v1", "--max-new-tokens", "8", "--json"]
        let gguf = try json(LLaVAExecutable.run(common + ["--model", Fixtures.url("gguf/llava-llm-f32.gguf").path,
                                                         "--mmproj", Fixtures.url("gguf/llava-mmproj-f32.gguf").path]))
        let original = try json(LLaVAExecutable.run(common + ["--model", Fixtures.url("llava/orig-mlp2x").path,
                                                             "--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path]))
        XCTAssertEqual(gguf["token_ids"] as? [Int], original["token_ids"] as? [Int])
        XCTAssertEqual(gguf["prompt_tokens"] as? Int, original["prompt_tokens"] as? Int)
    }

    func testAFolderOfGGUFFilesIsAModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-gguf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Fixtures.url("gguf/llava-llm-f32.gguf"), to: dir.appendingPathComponent("model-f32.gguf"))
        try FileManager.default.copyItem(at: Fixtures.url("gguf/llava-mmproj-f32.gguf"), to: dir.appendingPathComponent("mmproj-f32.gguf"))
        let r = try json(LLaVAExecutable.run(["generate", "--model", dir.path, "--image", Fixtures.url("images/gray.png").path,
                                              "--prompt", "Hi", "--max-new-tokens", "3", "--json"]))
        XCTAssertEqual((r["token_ids"] as? [Int])?.count, 3)
        // A text-only GGUF LLM runs without --mmproj.
        let text = try json(LLaVAExecutable.run(["generate", "--model", Fixtures.url("gguf/llama-q4_0.gguf").path,
                                                 "--prompt", "Hello", "--max-new-tokens", "4", "--json"]))
        XCTAssertNotNil(text["token_ids"])
    }

    func testHostileGGUFFilesAreRefusedWithTheFileNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-gguf-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Data(contentsOf: Fixtures.url("gguf/llama-q4_0.gguf"))
        var lyingCount = good
        lyingCount.replaceSubrange(8..<16, with: Data(repeating: 0xFF, count: 8))   // tensor count 2^64-1
        var lyingType = good
        if let r = lyingType.range(of: Data("token_embd.weight".utf8)) {
            // name, then u32 dims, 2 × u64 dims, then the u32 type
            let typeAt = r.upperBound + 4 + 16
            lyingType.replaceSubrange(typeAt..<typeAt + 4, with: Data([99, 0, 0, 0]))
        }
        let cases: [(String, Data, String)] = [
            ("truncated.gguf", good.prefix(good.count / 2), "truncated.gguf"),
            ("header-cut.gguf", good.prefix(100), "header-cut.gguf"),
            ("count.gguf", lyingCount, "count.gguf"),
            ("type.gguf", lyingType, "ggml type 99"),
            ("notgguf.gguf", Data("hello".utf8), "not a GGUF file"),
        ]
        for (name, bytes, needle) in cases {
            let path = dir.appendingPathComponent(name)
            try bytes.write(to: path)
            let r = try LLaVAExecutable.run(["generate", "--model", path.path, "--prompt", "hi", "--max-new-tokens", "2"])
            XCTAssertNotEqual(r.status, 0, name)
            XCTAssertTrue(r.stderr.contains(needle), "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(name), "\(name): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), "\(name): \(r.stderr)")
        }
    }
}

/// `llava quantize` writes GGUF files that `llava` reads back: at F32 the built-in model answers
/// exactly as it does from safetensors; at Q8_0/Q4_0 the matrices are blocks and it still runs.
final class QuantizeCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-quantize-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func generate(_ extra: [String]) throws -> [String: Any] {
        let r = try LLaVAExecutable.run(["generate", "--image", Fixtures.packageRoot.appendingPathComponent("examples/scene.png").path,
                                         "--prompt", "What shape are the red objects?", "--max-new-tokens", "12", "--json"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    func testBuiltInModelAtF32AnswersAsFromSafetensors() throws {
        let q = try LLaVAExecutable.run(["quantize", "--type", "f32", "--output", dir.path])
        XCTAssertEqual(q.status, 0, q.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(files, ["mmproj-f32.gguf", "model-f32.gguf"])
        let fromGGUF = try generate(["--model", dir.path])
        let original = try generate([])
        XCTAssertEqual(fromGGUF["token_ids"] as? [Int], original["token_ids"] as? [Int])
        XCTAssertEqual(fromGGUF["text"] as? String, original["text"] as? String)
    }

    func testBlockTypesAreWrittenAndRun() throws {
        for type in ["q8_0", "q4_0", "q4_k_m"] {
            let out = dir.appendingPathComponent(type)
            let q = try LLaVAExecutable.run(["quantize", "--model", Fixtures.url("llama/mha").path, "--type", type, "--output", out.path])
            XCTAssertEqual(q.status, 0, q.stderr)
            let r = try LLaVAExecutable.run(["generate", "--model", out.appendingPathComponent("model-\(type).gguf").path,
                                             "--prompt", "Hello world", "--max-new-tokens", "5", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let bad = try LLaVAExecutable.run(["quantize", "--model", Fixtures.url("llama/mha").path, "--type", "q5_k_m", "--output", dir.path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("q5_k_m"), bad.stderr)
    }
}

/// `llava bench` measures like llama-bench: prefill and decode as separate tests from a cache
/// holding --depth tokens, labelled as llama-bench labels them.
final class BenchCommandTests: XCTestCase {
    func testBenchReportsPrefillAndDecodeAtADepth() throws {
        let model = Fixtures.url("gguf/llama-q4_0.gguf").path
        let r = try LLaVAExecutable.run(["bench", "--model", model, "--prompt-tokens", "4", "--gen-tokens", "3",
                                         "--depth", "6", "--repetitions", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(report["depth"] as? Int, 6)
        XCTAssertEqual(report["prompt_tokens"] as? Int, 4)
        XCTAssertEqual(report["gen_tokens"] as? Int, 3)
        for key in ["prefill_tokens_per_second", "decode_tokens_per_second"] {
            let stat = try XCTUnwrap(report[key] as? [String: Double], key)
            XCTAssertGreaterThan(stat["min"] ?? 0, 0, key)
            XCTAssertGreaterThanOrEqual(stat["median"] ?? 0, stat["min"] ?? .infinity, key)
        }
        XCTAssertGreaterThan(report["peak_resident_mb"] as? Double ?? 0, 0)
        XCTAssertEqual(r.stderr.components(separatedBy: "decode").count - 1, 2, "one line per repetition: \(r.stderr)")

        let table = try LLaVAExecutable.run(["bench", "--model", model, "--prompt-tokens", "4", "--gen-tokens", "3",
                                             "--depth", "6", "--repetitions", "1"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("| pp4 @ d6 (tok/s) |") && table.stdout.contains("| tg3 @ d6 (tok/s) |"), table.stdout)

        for (flags, named) in [(["--depth", "-1"], "--depth"), (["--depth", "1000000"], "--depth")] {
            let bad = try LLaVAExecutable.run(["bench", "--model", model, "--prompt-tokens", "4", "--gen-tokens", "3"] + flags)
            XCTAssertNotEqual(bad.status, 0, flags.joined(separator: " "))
            XCTAssertTrue(bad.stderr.contains(named), bad.stderr)
        }
    }
}
