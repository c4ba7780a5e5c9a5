import Foundation

/// `llava eval report`: every benchmark result found in a folder as one table beside the
/// LLaVA-1.5-7B row of the LLaVA-1.5 paper (Table 4 of "Improved Baselines with Visual
/// Instruction Tuning").
public struct EvaluationReport {
    /// The paper's LLaVA-1.5-7B numbers, in its column order, with the name of the result file each comes from.
    public static let paperRow: [(benchmark: String, column: String, metric: String, value: Double)] = [
        ("vqav2", "VQAv2", "accuracy", 78.5), ("gqa", "GQA", "accuracy", 62.0), ("vizwiz", "VizWiz", "accuracy", 50.0),
        ("scienceqa", "SQA-IMG", "IMG", 66.8), ("textvqa", "TextVQA", "accuracy", 58.2), ("pope", "POPE", "f1", 85.9),
        ("mme", "MME", "perception", 1510.7), ("mmbench", "MMBench", "circular accuracy", 64.3), ("seed", "SEED", "accuracy", 58.6),
        ("llava-bench", "LLaVA-W", "overall", 65.4), ("mm-vet", "MM-Vet", "score", 31.1),
    ]

    public var results: [BenchmarkResult]

    /// Reads every `*.json` in `folder` that is a benchmark result (other JSON files are skipped).
    public init(folder: URL) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { throw EvaluationError.missingFile(folder.path) }
        results = names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) else { return nil }
            return try? JSONDecoder().decode(BenchmarkResult.self, from: data)
        }
    }

    public init(results: [BenchmarkResult]) { self.results = results }

    /// A Markdown table: one row per benchmark of the paper (then any other result), this
    /// model's headline number beside the paper's; "—" where a benchmark was not run.
    public var markdown: String {
        var lines = ["| benchmark | metric | this model | LLaVA-1.5-7B (paper) |", "|---|---|---|---|"]
        let byName = Dictionary(results.map { ($0.benchmark, $0) }, uniquingKeysWith: { _, last in last })
        func value(_ r: BenchmarkResult?) -> String { r?.headlineValue.map { String(format: "%.1f", $0) } ?? "—" }
        for p in Self.paperRow {
            let r = byName[p.benchmark]
            lines.append("| \(p.column) | \(r?.headline ?? p.metric) | \(value(r)) | \(String(format: "%.1f", p.value)) |")
        }
        for r in results where !Self.paperRow.contains(where: { $0.benchmark == r.benchmark }) {
            lines.append("| \(r.benchmark) | \(r.headline) | \(value(r)) | — |")
        }
        let models = Set(results.map(\.model)).sorted()
        if !models.isEmpty { lines.append("\nmodel: \(models.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
