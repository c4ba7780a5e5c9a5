import Checkpoint
import Foundation
import Tensor

/// Everything needed to resume training bit-exactly, saved as a directory `checkpoint-<step>/`:
///
///     model.safetensors       trainable parameters, f32, by name
///     optimizer.safetensors   AdamW moments: exp_avg.<name>, exp_avg_sq.<name> (parameter shapes;
///                             F32, or BF16 when the optimizer keeps them in bf16)
///     optimizer.json          AdamW hyperparameters and each parameter's step count
///     scheduler.json          the learning-rate schedule
///     rng_state.json          the dropout generator (SplitMix64)
///     sampler_state.bin       the data sampler's state, opaque bytes from the caller
///     trainer_state.json      global step and free-form `extra` strings; written last
///
/// A save writes all of it into `checkpoint-<step>.tmp/`, fsyncs every file and the directory,
/// then renames it to `checkpoint-<step>/`: a crash leaves either nothing new or a `.tmp`
/// directory that ``latest(in:)`` ignores. Older checkpoints beyond `keepLast` are removed only
/// after the new one is in place.
///
/// ```swift
/// let saved = try TrainingCheckpoint(step: step, parameters: params, optimizer: adamw,
///                                    schedule: schedule, samplerState: try sampler.encoded(),
///                                    rng: dropoutRNG).write(to: outputDir, keepLast: 2)
/// if let dir = TrainingCheckpoint.latest(in: outputDir) {
///     let resumed = try TrainingCheckpoint.read(from: dir)
///     try resumed.restore(into: params)
/// }
/// ```
public struct TrainingCheckpoint {
    /// Optimizer steps completed.
    public var step: Int
    /// Trainable tensors by name (f32). Written as given; read back as owned copies.
    public var parameters: [String: Tensor]
    public var optimizer: AdamW
    public var schedule: LearningRateSchedule
    public var samplerState: Data
    public var rng: SplitMix64
    /// Anything else worth keeping (run name, epoch, best loss …), saved in trainer_state.json.
    public var extra: [String: String]

    public init(step: Int, parameters: [String: Tensor], optimizer: AdamW, schedule: LearningRateSchedule,
                samplerState: Data, rng: SplitMix64, extra: [String: String] = [:]) {
        self.step = step
        self.parameters = parameters
        self.optimizer = optimizer
        self.schedule = schedule
        self.samplerState = samplerState
        self.rng = rng
        self.extra = extra
    }

    /// A checkpoint of live parameters (their tensors are written, not copied).
    public init(step: Int, parameters: [Parameter], optimizer: AdamW, schedule: LearningRateSchedule,
                samplerState: Data, rng: SplitMix64, extra: [String: String] = [:]) {
        var byName: [String: Tensor] = [:]
        for p in parameters {
            precondition(byName.updateValue(p.value, forKey: p.name) == nil, "two parameters named '\(p.name)'")
        }
        self.init(step: step, parameters: byName, optimizer: optimizer, schedule: schedule,
                  samplerState: samplerState, rng: rng, extra: extra)
    }

    /// Copies the saved values into `params`, strictly: every parameter must be saved with its
    /// shape, and every saved tensor must belong to one of them.
    public func restore(into params: [Parameter], file: String = "model.safetensors") throws {
        let unknown = Set(parameters.keys).subtracting(params.map(\.name))
        guard unknown.isEmpty else { throw TrainingStateError.unexpectedTensors(file: file, names: unknown.sorted()) }
        for p in params {
            guard let saved = parameters[p.name] else { throw TrainingStateError.missingTensor(file: file, tensor: p.name) }
            guard saved.shape == p.value.shape else {
                throw TrainingStateError.shapeMismatch(file: file, tensor: p.name, expected: p.value.shape, found: saved.shape)
            }
            p.value.rawPointer.copyMemory(from: saved.rawPointer, byteCount: saved.byteCount)
        }
    }

    // MARK: - Directory names

    /// `checkpoint-<step>`, as the HF Trainer names them.
    public static func directoryName(step: Int) -> String { "checkpoint-\(step)" }

    /// The step of a complete checkpoint directory name (`checkpoint-120` → 120); nil for
    /// anything else, including `checkpoint-120.tmp`.
    public static func step(ofDirectoryNamed name: String) -> Int? {
        guard name.hasPrefix("checkpoint-") else { return nil }
        let digits = name.dropFirst("checkpoint-".count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// Complete checkpoints in `directory` (renamed into place, trainer_state.json present),
    /// by ascending step.
    public static func all(in directory: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (step: Int, url: URL)? in
            guard let step = step(ofDirectoryNamed: name) else { return nil }
            let url = directory.appendingPathComponent(name, isDirectory: true)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(Files.trainerState).path) else { return nil }
            return (step, url)
        }.sorted { $0.step < $1.step }
    }

    /// The complete checkpoint with the highest step, ignoring `.tmp` leftovers of a crash.
    public static func latest(in directory: URL) -> URL? { all(in: directory).last?.url }

    enum Files {
        static let model = "model.safetensors"
        static let optimizerMoments = "optimizer.safetensors"
        static let optimizer = "optimizer.json"
        static let scheduler = "scheduler.json"
        static let rng = "rng_state.json"
        static let sampler = "sampler_state.bin"
        static let trainerState = "trainer_state.json"
    }
}

// MARK: - JSON files

/// optimizer.json: AdamW without its moments (those go to optimizer.safetensors).
struct OptimizerScalars: Codable {
    var beta1, beta2, eps, weightDecay: Float
    /// Each parameter's step count.
    var steps: [String: Int]
    /// "bf16" when the moments are kept (and saved) in bf16; absent for f32.
    var momentPrecision: MomentPrecision? = nil

    enum CodingKeys: String, CodingKey {
        case beta1, beta2, eps, steps
        case momentPrecision = "moment_precision"
        case weightDecay = "weight_decay"
    }
}

/// trainer_state.json.
struct TrainerStateFile: Codable {
    var formatVersion: Int
    var globalStep: Int
    var extra: [String: String]

    enum CodingKeys: String, CodingKey {
        case extra
        case formatVersion = "format_version"
        case globalStep = "global_step"
    }
}
