import Foundation
import TestSupport
import XCTest

/// Data-parallel `llava train` under `mpirun -np 2` (Open MPI, ranks on this machine): each
/// rank runs its half of every global batch and the gradients are summed, so the per-step
/// losses equal a one-process run with the same global batch (1e-5 relative over 20 steps),
/// for stage 1, stage 2 full and stage 2 LoRA (dropout on: a sequence's masks follow its place
/// in the global batch, not its rank), and `train clip` (embeddings all-gathered for the
/// full-batch contrastive loss). A rank killed mid-run stops the whole job, and the job resumed
/// under MPI continues with exactly the losses of the same 2-rank job left alone.
///
/// Two ranks and one process sum each gradient in a different order, so their losses agree to
/// float rounding and drift apart as training compounds it (measured on the kill test's job:
/// 3.4e-7 relative at most over the first 20 steps, 1.5e-5 by step 95, 2.6e-5 by step 150);
/// a resumed job repeats the arithmetic of the job it continues, so the kill test compares it
/// with an uninterrupted 2-rank job, step by step for equality.
final class TrainMPICommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        guard Self.mpirun != nil else {
            throw XCTSkip("mpirun not found: scripts/setup.sh installs Open MPI (openmpi-bin, libopenmpi-dev)")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-mpi-\(UUID().uuidString)")
        try TrainCommandTests.writeData(to: dir)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    static var mpirun: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `mpirun -np 2 llava …` on this machine: root allowed (CI runs as root), two ranks on
    /// two cores or fewer (--oversubscribe), one compute thread each.
    func mpi(_ arguments: [String]) throws -> (Process, URL) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.mpirun!)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "2", try LLaVAExecutable.url().path]
            + arguments + ["--threads", "1"]
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        process.environment = env
        let log = dir.appendingPathComponent("mpirun-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, log)
    }

    /// Runs `mpirun -np 2 llava …` to the end; returns its status and output.
    func runMPI(_ arguments: [String], timeout: TimeInterval = 300) throws -> (Int32, String) {
        let (process, log) = try mpi(arguments)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning {
            process.terminate()
            XCTFail("mpirun \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    var base: [String] {
        ["--model-name-or-path", Fixtures.url("llama/mha").path, "--vision-tower", Fixtures.url("llava/orig-mlp2x-clip").path,
         "--image-folder", dir.path, "--quiet"]
    }

    func losses(_ run: String) throws -> [Double] { try TrainCommandTests.losses(dir.appendingPathComponent(run)) }

    func assertSameLosses(_ a: [Double], _ b: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            XCTAssertEqual(x, y, accuracy: 1e-5 * abs(y), "\(what) step \(i + 1): \(a) vs \(b)", file: file, line: line)
        }
    }

    /// One process and two ranks over the same 20 global batches: same losses.
    func compare(_ command: [String], _ name: String) throws {
        let single = try LLaVAExecutable.run(command + ["--output-dir", dir.appendingPathComponent("\(name)-1").path, "--threads", "1"],
                                             timeout: 300)
        XCTAssertEqual(single.status, 0, single.stderr)
        let (status, output) = try runMPI(command + ["--output-dir", dir.appendingPathComponent("\(name)-2").path])
        XCTAssertEqual(status, 0, output)
        let one = try losses("\(name)-1"), two = try losses("\(name)-2")
        XCTAssertEqual(one.count, 20)
        assertSameLosses(two, one, name)
    }

    func testTwoRanksMatchOneProcess() throws {
        let pretrain = ["train", "pretrain"] + base + ["--data", dir.appendingPathComponent("pretrain.json").path,
                                                       "--batch-size", "4", "--max-steps", "20", "--learning-rate", "1e-2"]
        try compare(pretrain, "stage1")
        let projector = dir.appendingPathComponent("stage1-1/mm_projector.safetensors").path
        let finetune = ["train", "finetune"] + base + ["--data", dir.appendingPathComponent("finetune.json").path,
                                                       "--pretrain-mm-mlp-adapter", projector, "--batch-size", "5",
                                                       "--max-steps", "20", "--learning-rate", "1e-3"]
        try compare(finetune, "full")
        try compare(finetune + ["--lora-r", "4", "--lora-alpha", "8", "--lora-dropout", "0.1"], "lora")
    }

    /// SIGKILL one rank mid-run: mpirun stops the other and exits non-zero (no hang); the job
    /// resumed under MPI from the last checkpoint ends with the uninterrupted 2-rank job's
    /// losses, every step equal (LoRA with its default dropout, so the dropout stream resumes too).
    func testKilledRankStopsTheJobAndTheResumedJobContinues() throws {
        let command = ["train", "finetune"] + base + ["--data", dir.appendingPathComponent("finetune.json").path,
                                                      "--batch-size", "5", "--max-steps", "\(Self.killSteps)", "--learning-rate", "1e-3",
                                                      "--lora-r", "4", "--lora-alpha", "8", "--save-steps", "\(Self.saveSteps)"]
        try killAndResume(command, steps: Self.killSteps)
    }

    /// Runs `command` under MPI to the end, then again with a rank SIGKILLed after its second
    /// checkpoint (the job must stop, non-zero), then resumed: the same losses, step for step.
    func killAndResume(_ command: [String], steps: Int) throws {
        let (refStatus, refOutput) = try runMPI(command + ["--output-dir", dir.appendingPathComponent("ref").path])
        XCTAssertEqual(refStatus, 0, refOutput)
        let expected = try losses("ref")
        XCTAssertEqual(expected.count, steps)

        let out = dir.appendingPathComponent("killed")
        let (process, log) = try mpi(command + ["--output-dir", out.path])
        // Wait for the second checkpoint, then kill rank 1 (a child of mpirun's launcher).
        let deadline = Date().addingTimeInterval(240)
        while Date() < deadline, process.isRunning, latestCheckpoint(out) < 2 * Self.saveSteps {
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertTrue(process.isRunning, "the run ended before it could be killed")
        let ranks = descendants(of: process.processIdentifier).filter { commandLine($0).contains("llava") }
        XCTAssertEqual(ranks.count, 2, "rank processes: \(ranks)")
        if let victim = ranks.last { kill(victim, SIGKILL) }
        let stop = Date().addingTimeInterval(60)
        while process.isRunning && Date() < stop { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertFalse(process.isRunning, "mpirun still running 60 s after a rank was killed")
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.lowercased().contains("signal") || text.lowercased().contains("killed"), text)
        XCTAssertLessThan((try? losses("killed"))?.count ?? 0, steps, "killed before the end")

        let (status, output) = try runMPI(command + ["--output-dir", out.path, "--resume"])
        XCTAssertEqual(status, 0, output)
        let resumed = try losses("killed")
        XCTAssertEqual(resumed.count, expected.count)
        for (i, (got, want)) in zip(resumed, expected).enumerated() where got != want {
            XCTFail("step \(i + 1): resumed \(got), uninterrupted \(want)")
            break
        }
    }

    /// `llava train clip` on the four fixture images (pretrain.json's captions), tiny towers.
    func clipCommand(_ extra: [String]) -> [String] {
        ["train", "clip", "--data", dir.appendingPathComponent("pretrain.json").path, "--image-folder", dir.path,
         "--tokenizer", Fixtures.url("llama/mha").path, "--heads", "2", "--text-hidden", "32", "--text-layers", "1",
         "--projection-dim", "16", "--image-size", "32", "--quiet"] + extra
    }

    /// CLIP's loss couples the whole global batch: each rank all-gathers both towers'
    /// embeddings, so 2 ranks (batch 3: shards of 2 and 1) give one process's losses, and the
    /// same gradient norms before clipping (AdamW hides a gradient scaled by a constant from the
    /// losses; the norm shows it). Learning rate 1e-4 keeps the loss O(1) (1.31 → 0.52): a loss
    /// near 0 is the difference of near-equal logits, its relative rounding large.
    func testCLIPTwoRanksMatchOneProcess() throws {
        try compare(clipCommand(["--hidden", "32", "--layers", "1", "--patch-size", "16", "--batch-size", "3",
                                 "--max-steps", "20", "--learning-rate", "1e-4", "--warmup-ratio", "0"]), "clip")
        let one = try TrainCommandTests.metric("grad_norm", of: dir.appendingPathComponent("clip-1"))
        let two = try TrainCommandTests.metric("grad_norm", of: dir.appendingPathComponent("clip-2"))
        XCTAssertEqual(one.count, 20)
        assertSameLosses(two, one, "clip gradient norm")
    }

    /// A CLIP job with a rank killed stops, and resumed under MPI continues with exactly the
    /// uninterrupted 2-rank job's losses (optimizer state restored, batches derived from the step).
    func testCLIPKilledRankStopsTheJobAndTheResumedJobContinues() throws {
        let command = clipCommand(["--hidden", "64", "--layers", "2", "--patch-size", "8", "--batch-size", "4",
                                   "--max-steps", "\(Self.clipKillSteps)", "--learning-rate", "1e-3",
                                   "--save-steps", "\(Self.saveSteps)"])
        try killAndResume(command, steps: Self.clipKillSteps)
    }

    /// The step of the newest checkpoint in `dir` (0: none).
    func latestCheckpoint(_ dir: URL) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.compactMap { $0.hasPrefix("checkpoint-") ? Int($0.dropFirst("checkpoint-".count)) : nil }.max() ?? 0
    }

    /// Long enough runs that a rank can be killed between its second checkpoint and its end.
    static let killSteps = 200, clipKillSteps = 400, saveSteps = 20

    /// Every process below `pid` (through mpirun's launcher), from /proc.
    func descendants(of pid: Int32) -> [Int32] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var children: [Int32: [Int32]] = [:]
        for entry in all {
            guard let p = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { children[parent, default: []].append(p) }
        }
        var out: [Int32] = [], queue = [pid]
        while let p = queue.popLast() {
            for c in children[p] ?? [] { out.append(c); queue.append(c) }
        }
        return out.sorted()
    }

    func commandLine(_ pid: Int32) -> String {
        let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }
}
