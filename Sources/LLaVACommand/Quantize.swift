import ArgumentParser
import Checkpoint
import Foundation
import LLaVA
import Language
import Logging

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model as llama.cpp's GGUF files: the language model in the chosen type, and for LLaVA the mmproj.",
        discussion: """
        OUTPUT/model-TYPE.gguf (and OUTPUT/mmproj-f16.gguf for a LLaVA model), which `--model OUTPUT` runs and
        llama.cpp loads. Matrices whose rows are not whole blocks of 32 stay F16, as llama.cpp's quantizer does.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Type of the language model's matrices: f32, f16, bf16, q8_0, q4_0, q4_k_m (Q4_K, Q6_K where llama.cpp puts it).") var type: String
    @Option(help: "Output directory (created).") var output: String
    @OptionGroup var runtime: RuntimeOptions

    static let types: [String: LlamaFileType] = ["f32": .uniform(.f32), "f16": .uniform(.f16), "bf16": .uniform(.bf16),
                                                 "q8_0": .uniform(.q8_0), "q4_0": .uniform(.q4_0), "q4_k_m": .q4KM]

    func run() throws {
        try runtime.apply()
        guard let ggml = Self.types[type.lowercased()] else {
            let k = type.lowercased().hasPrefix("q4_k") || type.lowercased().hasPrefix("q5_k") || type.lowercased().hasPrefix("q6_k")
            throw ValidationError("--type '\(type)' \(k ? "is read from GGUF files but not written" : "is unknown"); write one of \(Self.types.keys.sorted().joined(separator: ", "))")
        }
        let path = try modelOptions.modelDirectory()
        let loaded = try LoadedModel(directory: path, visionTower: modelOptions.visionTower, mmproj: modelOptions.mmproj,
                                     logger: Logger(label: "llava.quantize"))
        let out = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let modelFile = out.appendingPathComponent("model-\(type.lowercased()).gguf")
        let source = URL(fileURLWithPath: path)
        switch loaded {
        case .llava(let model):
            try writeLanguage(model.language, name: model.name, source: source, to: modelFile, type: ggml)
            let f32 = ggml == .uniform(.f32)
            let mmproj = out.appendingPathComponent(f32 ? "mmproj-f32.gguf" : "mmproj-f16.gguf")
            try model.writeMMProjGGUF(to: mmproj, type: f32 ? .f32 : .f16)
            printErr("wrote \(modelFile.path) and \(mmproj.path)")
        case .text(let language, _):
            try writeLanguage(language, name: source.deletingPathExtension().lastPathComponent, source: source, to: modelFile, type: ggml)
            printErr("wrote \(modelFile.path)")
        }
    }

    /// The LLM; its tokenizer from the source's tokenizer.json, or copied from a source GGUF's metadata.
    private func writeLanguage(_ language: LlamaModel, name: String, source: URL, to url: URL, type: LlamaFileType) throws {
        var writer = GGUFWriter()
        writer.add("general.architecture", .string("llama"))
        writer.add("general.name", .string(name))
        language.addGGUF(to: &writer, type: type)
        if let files = try GGUFModelFiles(path: source.path, mmproj: nil) {
            let file = try GGUFFile(url: files.model)
            for (key, value) in file.metadata.sorted(by: { $0.key < $1.key }) where key.hasPrefix("tokenizer.") { writer.add(key, value) }
        } else {
            try GGUFTokenizerExport.add(directory: source, to: &writer, vocabularySize: language.config.vocabularySize)
        }
        try writer.write(to: url)
    }
}
