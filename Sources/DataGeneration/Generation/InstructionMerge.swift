import Foundation
import Tensor

/// Turns generated records into the final LLaVA JSON in LLaVA-Instruct-158K's proportions
/// (58K conversation : 23K detail : 77K complex) among the kinds present.
///
/// ```swift
/// let records = try JSONLinesFile.read(GeneratedRecord.self, from: URL(fileURLWithPath: "all.jsonl"))
/// let merged = try InstructionMerge.merge(records, total: nil, seed: 0)
/// try LLaVARecord.write(merged.records, to: URL(fileURLWithPath: "llava_instruct.json"))
/// ```
public enum InstructionMerge {
    public struct Result: Sendable {
        public var records: [LLaVARecord]
        public var kept: [InstructionKind: Int]
        public var available: [InstructionKind: Int]
        /// Records dropped because their id came earlier.
        public var duplicates: Int
    }

    /// Records kept per kind: the largest counts in the reference proportions that `available`
    /// allows, or those for `total` (an error when too few records exist).
    public static func targets(available: [InstructionKind: Int], total: Int?) throws -> [InstructionKind: Int] {
        let present = InstructionKind.allCases.filter { (available[$0] ?? 0) > 0 }
        let reference = present.reduce(0) { $0 + $1.referenceCount }
        guard reference > 0 else { return [:] }
        let largest = present.map { Double(available[$0]!) / Double($0.referenceCount) }.min()! * Double(reference)
        // 3/23 × 23 is 2.999…: a hair of slack before rounding down.
        let wanted = total.map(Double.init) ?? (largest + 1e-6).rounded(.down)
        guard wanted <= largest + 0.5 else {
            throw DataGenerationError.invalidSetting(name: "--total", value: "\(total!)",
                expected: "at most \(Int(largest + 0.5)) with these records (\(present.map { "\($0.rawValue) \(available[$0]!)" }.joined(separator: ", ")))")
        }
        var out: [InstructionKind: Int] = [:]
        for kind in present {
            out[kind] = min(available[kind]!, Int((wanted * Double(kind.referenceCount) / Double(reference)).rounded()))
        }
        return out
    }

    /// Drops repeated ids (first kept), draws each kind's share with `seed`, shuffles the result.
    public static func merge(_ records: [GeneratedRecord], total: Int?, seed: UInt64) throws -> Result {
        var seen = Set<String>()
        var byKind: [InstructionKind: [GeneratedRecord]] = [:]
        var duplicates = 0
        for r in records {
            guard seen.insert(r.id).inserted else { duplicates += 1; continue }
            byKind[r.kind, default: []].append(r)
        }
        let available = byKind.mapValues(\.count)
        let kept = try targets(available: available, total: total)
        var rng = SplitMix64(seed: deriveSeed(seed, 31))
        var out: [LLaVARecord] = []
        for kind in InstructionKind.allCases {
            var pool = byKind[kind] ?? []
            rng.shuffle(&pool)
            out += pool.prefix(kept[kind] ?? 0).map(\.llavaRecord)
        }
        rng.shuffle(&out)
        return Result(records: out, kept: kept, available: available, duplicates: duplicates)
    }
}
