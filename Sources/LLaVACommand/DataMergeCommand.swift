import ArgumentParser
import DataGeneration
import Foundation

/// `llava data merge`: generated JSON Lines files into one LLaVA JSON in LLaVA-Instruct's mix.
struct DataMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge `llava data generate` outputs into LLaVA JSON in LLaVA-Instruct-158K's proportions (58K:23K:77K).",
        discussion: "The proportions are kept among the kinds present; by default as many records as they allow.")

    @Argument(help: "JSON Lines files written by `llava data generate`.") var inputs: [String]
    @Option(help: "LLaVA JSON to write.") var out: String
    @Option(help: "Records in all (default: the most the proportions allow).") var total: Int?
    @Option(help: "Random seed of the records drawn and their order.") var seed: UInt64 = 0

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one input file") }
        if let total, total < 1 { throw ValidationError("--total must be >= 1, got \(total)") }
    }

    func run() throws {
        let records = try inputs.flatMap { try JSONLinesFile.read(GeneratedRecord.self, from: URL(fileURLWithPath: $0)) }
        let merged = try InstructionMerge.merge(records, total: total, seed: seed)
        try LLaVARecord.write(merged.records, to: URL(fileURLWithPath: out))
        let mix = InstructionKind.allCases.map { "\($0.rawValue) \(merged.kept[$0] ?? 0)/\(merged.available[$0] ?? 0)" }
        printErr("wrote \(merged.records.count) records to \(out) (kept/available: \(mix.joined(separator: ", ")))"
                 + (merged.duplicates > 0 ? "; dropped \(merged.duplicates) repeated ids" : ""))
    }
}
