import Checkpoint
import Foundation
import Tensor

// MARK: - Writing

extension TrainingCheckpoint {
    /// Saves into `directory/checkpoint-<step>/` atomically and returns that URL; then, when
    /// `keepLast > 0`, deletes the oldest complete checkpoints below this step so that `keepLast`
    /// remain (HF's `save_total_limit`). Checkpoints with a higher step are never touched.
    @discardableResult
    public func write(to directory: URL, keepLast: Int) throws -> URL {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let final = directory.appendingPathComponent(Self.directoryName(step: step), isDirectory: true)
        let temp = directory.appendingPathComponent(Self.directoryName(step: step) + ".tmp", isDirectory: true)
        if fm.fileExists(atPath: temp.path) { try fm.removeItem(at: temp) }
        try fm.createDirectory(at: temp, withIntermediateDirectories: false)
        try writeFiles(into: temp)
        AtomicFile.syncDirectory(temp)
        if fm.fileExists(atPath: final.path) { try Self.remove(final) }  // saving the same step again
        try AtomicFile.rename(temp, to: final)
        AtomicFile.syncDirectory(directory)
        try prune(directory, keepLast: keepLast)
        return final
    }

    private func writeFiles(into dir: URL) throws {
        typealias F = Self.Files
        for (name, t) in parameters where t.dtype != .f32 {
            throw TrainingStateError.wrongDType(file: dir.appendingPathComponent(F.model).path, tensor: name, found: t.dtype.rawValue)
        }
        try SafeTensorsWriter.write(parameters, metadata: ["format": "pt"], to: dir.appendingPathComponent(F.model))
        var moments: [String: Tensor] = [:]
        for (name, m) in optimizer.state {
            // bf16 moments are saved as they are held (BF16 tensors), so a resume is exact.
            moments["exp_avg.\(name)"] = m.isBF16 ? bf16Tensor(m.expAvgBF16, shape: m.shape) : Tensor(m.expAvg, shape: m.shape)
            moments["exp_avg_sq.\(name)"] = m.isBF16 ? bf16Tensor(m.expAvgSqBF16, shape: m.shape)
                : Tensor(m.expAvgSq, shape: m.shape)
        }
        try SafeTensorsWriter.write(moments, metadata: nil, to: dir.appendingPathComponent(F.optimizerMoments))
        let scalars = OptimizerScalars(beta1: optimizer.beta1, beta2: optimizer.beta2, eps: optimizer.eps,
                                       weightDecay: optimizer.weightDecay,
                                       steps: optimizer.state.mapValues(\.step),
                                       momentPrecision: optimizer.momentPrecision == .f32 ? nil : optimizer.momentPrecision)
        try AtomicFile.write(Self.json(scalars), to: dir.appendingPathComponent(F.optimizer))
        try AtomicFile.write(Self.json(schedule), to: dir.appendingPathComponent(F.scheduler))
        try AtomicFile.write(Self.json(rng), to: dir.appendingPathComponent(F.rng))
        try AtomicFile.write(samplerState, to: dir.appendingPathComponent(F.sampler))
        // Last, so a directory holding it was fully written (`all(in:)` checks for it).
        let state = TrainerStateFile(formatVersion: 1, globalStep: step, extra: extra)
        try AtomicFile.write(Self.json(state), to: dir.appendingPathComponent(F.trainerState))
    }

    /// Keeps the newest `keepLast` complete checkpoints up to this step.
    private func prune(_ directory: URL, keepLast: Int) throws {
        guard keepLast > 0 else { return }
        let older = Self.all(in: directory).filter { $0.step < step }
        for old in older.dropLast(max(0, keepLast - 1)) { try Self.remove(old.url) }
    }

    /// Renames to a `.tmp` name first, so a crash mid-delete never leaves a half-deleted
    /// directory that looks like a checkpoint.
    static func remove(_ url: URL) throws {
        let doomed = url.deletingLastPathComponent()
            .appendingPathComponent(url.lastPathComponent + ".deleting-\(UInt32.random(in: 0...UInt32.max)).tmp")
        try AtomicFile.rename(url, to: doomed)
        try FileManager.default.removeItem(at: doomed)
    }

    static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(value) + Data("\n".utf8)
    }
}

// MARK: - Reading

extension TrainingCheckpoint {
    /// Loads a checkpoint written by ``write(to:keepLast:)``: tensors are owned f32 copies,
    /// bit-identical to what was saved; every moment must match its parameter's shape.
    public static func read(from dir: URL) throws -> TrainingCheckpoint {
        typealias F = Self.Files
        let state: TrainerStateFile = try decode(dir.appendingPathComponent(F.trainerState))
        let parameters = try readTensors(dir.appendingPathComponent(F.model))
        let scalars: OptimizerScalars = try decode(dir.appendingPathComponent(F.optimizer))
        var optimizer = AdamW(beta1: scalars.beta1, beta2: scalars.beta2, eps: scalars.eps,
                              weightDecay: scalars.weightDecay, momentPrecision: scalars.momentPrecision ?? .f32)
        optimizer.state = try readMoments(dir.appendingPathComponent(F.optimizerMoments), steps: scalars.steps,
                                          shapes: parameters.mapValues(\.shape))
        let samplerURL = dir.appendingPathComponent(F.sampler)
        guard FileManager.default.fileExists(atPath: samplerURL.path) else {
            throw TrainingStateError.missingFile(file: samplerURL.path)
        }
        return TrainingCheckpoint(step: state.globalStep, parameters: parameters, optimizer: optimizer,
                                  schedule: try decode(dir.appendingPathComponent(F.scheduler)),
                                  samplerState: try Data(contentsOf: samplerURL),
                                  rng: try decode(dir.appendingPathComponent(F.rng)), extra: state.extra)
    }

    static func decode<T: Decodable>(_ url: URL) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingStateError.missingFile(file: url.path)
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw TrainingStateError.invalidJSON(file: url.path, reason: "\(error)")
        }
    }

    /// Every tensor of a safetensors file as an owned f32 copy.
    static func readTensors(_ url: URL) throws -> [String: Tensor] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw TrainingStateError.missingFile(file: url.path) }
        let file = try SafeTensorsFile(url: url)
        var out: [String: Tensor] = [:]
        for name in file.tensorNames {
            let t = try file.tensor(name)
            guard t.dtype == .f32 else { throw TrainingStateError.wrongDType(file: url.path, tensor: name, found: t.dtype.rawValue) }
            out[name] = t.toF32()
        }
        return out
    }

    /// Moments for exactly the parameters that have a step count, shaped like those parameters.
    static func readMoments(_ url: URL, steps: [String: Int], shapes: [String: [Int]]) throws -> [String: AdamW.Moments] {
        var tensors = try readMomentTensors(url)
        var state: [String: AdamW.Moments] = [:]
        for (name, step) in steps {
            let pair = try ["exp_avg.\(name)", "exp_avg_sq.\(name)"].map { key -> Tensor in
                guard let t = tensors.removeValue(forKey: key) else {
                    throw TrainingStateError.missingTensor(file: url.path, tensor: key)
                }
                if let shape = shapes[name], shape != t.shape {
                    throw TrainingStateError.shapeMismatch(file: url.path, tensor: key, expected: shape, found: t.shape)
                }
                return t
            }
            if pair[0].dtype == .bf16 && pair[1].dtype == .bf16 {
                state[name] = AdamW.Moments(step: step, shape: pair[0].shape, bf16ExpAvg: bf16Bits(pair[0]),
                                            bf16ExpAvgSq: bf16Bits(pair[1]))
            } else {
                state[name] = AdamW.Moments(step: step, shape: pair[0].shape, expAvg: pair[0].toFloatArray(),
                                            expAvgSq: pair[1].toFloatArray())
            }
        }
        guard tensors.isEmpty else {
            throw TrainingStateError.unexpectedTensors(file: url.path, names: tensors.keys.sorted())
        }
        return state
    }

    /// The moments file's tensors: f32 ones as owned copies, bf16 ones (moments kept in bf16)
    /// as they are.
    static func readMomentTensors(_ url: URL) throws -> [String: Tensor] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw TrainingStateError.missingFile(file: url.path) }
        let file = try SafeTensorsFile(url: url)
        var out: [String: Tensor] = [:]
        for name in file.tensorNames {
            let t = try file.tensor(name)
            guard t.dtype == .f32 || t.dtype == .bf16 else {
                throw TrainingStateError.wrongDType(file: url.path, tensor: name, found: t.dtype.rawValue)
            }
            out[name] = t.dtype == .f32 ? t.toF32() : t
        }
        return out
    }
}

/// A BF16 tensor of bit patterns.
func bf16Tensor(_ bits: [UInt16], shape: [Int]) -> Tensor {
    let t = Tensor(zeros: shape, dtype: .bf16)
    bits.withUnsafeBytes { t.rawPointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    return t
}

/// The bit patterns of a BF16 tensor.
func bf16Bits(_ t: Tensor) -> [UInt16] {
    let p = t.rawPointer.assumingMemoryBound(to: UInt16.self)
    return Array(UnsafeBufferPointer(start: p, count: t.count))
}
