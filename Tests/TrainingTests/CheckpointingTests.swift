import Foundation
import Tensor
import XCTest
@testable import Training

/// Training checkpoints: exact round trip, crash safety (`.tmp` leftovers), keep-last-K.
final class CheckpointingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Two parameters after three real AdamW steps, so moments and step counts are non-trivial.
    func makeCheckpoint(step: Int, moments: MomentPrecision = .f32) -> (TrainingCheckpoint, [Parameter]) {
        var rng = SplitMix64(seed: UInt64(step))
        let random = { (n: Int) in (0..<n).map { _ in Float(rng.nextUnit()) * 2 - 1 } }
        let params = [Parameter(name: "mm_projector.0.weight", value: Tensor(random(12), shape: [4, 3]), decays: true),
                      Parameter(name: "mm_projector.0.bias", value: Tensor(random(4), shape: [4]), decays: false, lrScale: 0.5)]
        var adamw = AdamW(weightDecay: 0.1, momentPrecision: moments)
        for _ in 0..<3 {
            for p in params { p.grad = random(p.value.count) }
            adamw.step(params, lr: 1e-3)
        }
        var dropout = SplitMix64(seed: 0xFFFF_FFFF_FFFF_FF00)  // above 2^53: must survive JSON exactly
        _ = dropout.next()
        let ckpt = TrainingCheckpoint(step: step, parameters: params, optimizer: adamw,
                                      schedule: LearningRateSchedule(baseLR: 1e-3, totalSteps: 100, warmupRatio: 0.03),
                                      samplerState: Data([0, 1, 2, 255, UInt8(step % 256)]), rng: dropout,
                                      extra: ["epoch": "0", "run": "stage1"])
        return (ckpt, params)
    }

    func testRoundTripIsBitExact() throws {
        try roundTrip(moments: .f32)
    }

    /// Moments kept in bf16 are saved as BF16 tensors and come back as they were, so a resumed
    /// run takes the same steps (the stochastic roundings depend on name, step and element only).
    func testRoundTripWithBF16MomentsIsBitExact() throws {
        try roundTrip(moments: .bf16)
        let url = dir.appendingPathComponent("checkpoint-30")
        let back = try TrainingCheckpoint.read(from: url)
        XCTAssertEqual(back.optimizer.momentPrecision, .bf16)
        XCTAssertTrue(back.optimizer.state.values.allSatisfy(\.isBF16))
        let file = try String(contentsOf: url.appendingPathComponent("optimizer.json"), encoding: .utf8)
        XCTAssertTrue(file.contains("\"moment_precision\""), file)
    }

    func roundTrip(moments: MomentPrecision) throws {
        let (ckpt, params) = makeCheckpoint(step: 30, moments: moments)
        XCTAssertEqual(ckpt.optimizer.state.values.map(\.isBF16), [moments == .bf16, moments == .bf16])
        let url = try ckpt.write(to: dir, keepLast: 0)
        XCTAssertEqual(url.lastPathComponent, "checkpoint-30")
        let back = try TrainingCheckpoint.read(from: url)
        XCTAssertEqual(back.step, 30)
        XCTAssertEqual(Set(back.parameters.keys), Set(ckpt.parameters.keys))
        for (name, t) in ckpt.parameters {
            XCTAssertEqual(back.parameters[name]!.shape, t.shape, name)
            XCTAssertEqual(bits(back.parameters[name]!.toFloatArray()), bits(t.toFloatArray()), name)
        }
        XCTAssertEqual(back.optimizer, ckpt.optimizer)  // moments compared exactly, step counts too
        XCTAssertEqual(back.optimizer.state["mm_projector.0.bias"]?.step, 3)
        XCTAssertEqual(back.schedule, ckpt.schedule)
        XCTAssertEqual(back.samplerState, ckpt.samplerState)
        XCTAssertEqual(back.rng, ckpt.rng)
        XCTAssertEqual(back.extra, ckpt.extra)

        // Restoring then stepping both copies gives identical parameters.
        let fresh = params.map { Parameter(name: $0.name, value: Tensor(zeros: $0.value.shape), decays: $0.decays, lrScale: $0.lrScale) }
        try back.restore(into: fresh)
        var (a, b) = (ckpt.optimizer, back.optimizer)
        for (p, q) in zip(params, fresh) { p.grad = .init(repeating: 0.25, count: p.value.count); q.grad = p.grad }
        a.step(params, lr: 5e-4)
        b.step(fresh, lr: 5e-4)
        for (p, q) in zip(params, fresh) { XCTAssertEqual(bits(p.value.toFloatArray()), bits(q.value.toFloatArray())) }
    }

    func testRestoreIsStrict() throws {
        let (ckpt, params) = makeCheckpoint(step: 1)
        XCTAssertThrowsError(try ckpt.restore(into: [params[0]])) { error in
            XCTAssertEqual(error as? TrainingStateError, .unexpectedTensors(file: "model.safetensors", names: ["mm_projector.0.bias"]))
        }
        let wrong = Parameter(name: "mm_projector.0.bias", value: Tensor(zeros: [5]), decays: false)
        XCTAssertThrowsError(try ckpt.restore(into: [params[0], wrong])) { error in
            XCTAssertEqual(error as? TrainingStateError,
                           .shapeMismatch(file: "model.safetensors", tensor: "mm_projector.0.bias", expected: [5], found: [4]))
        }
    }

    func testCrashLeftoversAreIgnored() throws {
        XCTAssertNil(TrainingCheckpoint.latest(in: dir))
        try makeCheckpoint(step: 10).0.write(to: dir, keepLast: 0)
        // A crash while writing step 20: its .tmp directory holds some files but was never renamed.
        let torn = dir.appendingPathComponent("checkpoint-20.tmp")
        try FileManager.default.createDirectory(at: torn, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: torn.appendingPathComponent("trainer_state.json"))
        // And a directory with the right name but no trainer_state.json (written last).
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("checkpoint-30"), withIntermediateDirectories: true)
        XCTAssertEqual(TrainingCheckpoint.latest(in: dir)?.lastPathComponent, "checkpoint-10")
        XCTAssertEqual(try TrainingCheckpoint.read(from: TrainingCheckpoint.latest(in: dir)!).step, 10)

        // Saving step 20 again replaces the leftover.
        let url = try makeCheckpoint(step: 20).0.write(to: dir, keepLast: 0)
        XCTAssertEqual(TrainingCheckpoint.latest(in: dir), url)
        XCTAssertFalse(FileManager.default.fileExists(atPath: torn.path))
    }

    func testKeepLastDeletesOnlyOlderCompleteCheckpoints() throws {
        for step in [100, 200, 300] { try makeCheckpoint(step: step).0.write(to: dir, keepLast: 0) }
        // A stale later checkpoint (from an earlier, longer run) and a crash leftover.
        try makeCheckpoint(step: 900).0.write(to: dir, keepLast: 0)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("checkpoint-50.tmp"), withIntermediateDirectories: true)
        try makeCheckpoint(step: 400).0.write(to: dir, keepLast: 2)
        XCTAssertEqual(TrainingCheckpoint.all(in: dir).map(\.step), [300, 400, 900])
        XCTAssertEqual(names(), ["checkpoint-300", "checkpoint-400", "checkpoint-50.tmp", "checkpoint-900"])
        try makeCheckpoint(step: 500).0.write(to: dir, keepLast: 1)
        XCTAssertEqual(TrainingCheckpoint.all(in: dir).map(\.step), [500, 900])
        // Re-saving an existing step replaces it rather than failing.
        try makeCheckpoint(step: 500).0.write(to: dir, keepLast: 1)
        XCTAssertEqual(TrainingCheckpoint.all(in: dir).map(\.step), [500, 900])
    }

    func testMissingAndCorruptFilesNameTheFile() throws {
        let url = try makeCheckpoint(step: 7).0.write(to: dir, keepLast: 0)
        let rng = url.appendingPathComponent("rng_state.json")
        try Data("{\"state\": \"x\"}".utf8).write(to: rng)
        XCTAssertThrowsError(try TrainingCheckpoint.read(from: url)) { error in
            guard case let .invalidJSON(file, _)? = error as? TrainingStateError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, rng.path)
        }
        let moments = url.appendingPathComponent("optimizer.safetensors")
        try FileManager.default.removeItem(at: moments)
        XCTAssertThrowsError(try TrainingCheckpoint.read(from: url)) { error in
            XCTAssertEqual(error as? TrainingStateError, .missingFile(file: moments.path))
            XCTAssertTrue("\(error)".contains("optimizer.safetensors"))
        }
    }

    func testCheckpointNames() {
        XCTAssertEqual(TrainingCheckpoint.step(ofDirectoryNamed: "checkpoint-120"), 120)
        for bad in ["checkpoint-120.tmp", "checkpoint-", "checkpoint-12a", "checkpoint-٣", "ckpt-1", "checkpoint-1.deleting-5.tmp"] {
            XCTAssertNil(TrainingCheckpoint.step(ofDirectoryNamed: bad), bad)
        }
    }

    private func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }

    private func bits(_ xs: [Float]) -> [UInt32] { xs.map(\.bitPattern) }
}
