import Checkpoint
import Foundation
import LLaVA
import Language
import Logging
import Tensor
import Tokenizer
import Vision

/// llama.cpp's GGUF files back to a Hugging Face directory: the inverse of `llava quantize`.
///
/// The GGUF loaders read the files (names mapped, each head's Q/K rows put back from llama.cpp's
/// interleaved pairs to HF's halves, every tensor and shape checked), and the llava-hf writer
/// stores the result under HF's names, so both directions share one mapping each way:
/// - with an `mmproj`: a `LlavaForConditionalGeneration` directory. The tower is the one the
///   mmproj holds (llama.cpp's converter drops LLaVA-1.5's last layer, so `vision_feature_layer`
///   is -1 of the layers kept, the same hidden state); `<image>` is added to the tokenizer when
///   the vocabulary lacks it, its embedding row the mean of the others.
/// - without: a `LlamaForCausalLM` directory.
///
/// Quantised tensors are expanded with ggml's own formulas and stored as `dtype`, a tensor at a
/// time: the blocks the kernels read stay mapped until then, and no f32 copy of the model is
/// made (only of the two vocabulary matrices, when `<image>` adds a row). Q4_1/Q5_0/Q5_1/Q5_K
/// tensors, which the loader expands, pass through f16 in a model over 4 GiB of f32, as `llava`
/// runs them. The tokenizer files are rebuilt from `tokenizer.ggml.*` (and
/// `tokenizer.chat_template`). The directory is written under a temporary name and renamed whole.
///
/// ```swift
/// try GGUFConversion.writeHF(model: URL(fileURLWithPath: "ggml-model-q4_k.gguf"),
///                            mmproj: URL(fileURLWithPath: "mmproj-model-f16.gguf"),
///                            to: URL(fileURLWithPath: "llava-hf"), dtype: .f16)
/// ```
public enum GGUFConversion {
    public static func writeHF(model: URL, mmproj: URL?, to directory: URL, dtype: DType, logger: Logger? = nil) throws {
        try publishWhole(directory) { temp in
            let file = try GGUFFile(url: model)
            if let mmproj {
                let llava = try LLaVAModel(gguf: model, mmproj: mmproj, logger: logger)
                try Tokenizer.writeFiles(gguf: file, to: temp)
                try writeLLaVAHF(llava, to: temp, dtype: dtype)
            } else {
                let language = try LlamaModel(gguf: file)
                try Tokenizer.writeFiles(gguf: file, to: temp)
                let decoder = TrainableDecoder(weights: language.weights, config: language.config, mode: .frozen)
                try ModelExport.writeLlama(to: temp, decoder: decoder, tokenizerDirectory: temp, dtype: dtype)
            }
            try writeGenerationConfig(try LlamaConfiguration(gguf: file), to: temp)
        }
    }

    /// Writes the directory under a temporary name beside it and renames it into place, so a
    /// failed conversion leaves nothing and a reader never sees half a model. An existing
    /// `directory` must be empty.
    private static func publishWhole(_ directory: URL, _ body: (URL) throws -> Void) throws {
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        guard existing.isEmpty else {
            throw TrainingError.invalidArgument("\(directory.path) exists and is not empty (\(existing.count) entries): give a new directory")
        }
        let temp = directory.deletingLastPathComponent()
            .appendingPathComponent(".\(directory.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: temp)
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        do {
            try body(temp)
            AtomicFile.syncDirectory(temp)
            try AtomicFile.rename(temp, to: directory)
            AtomicFile.syncDirectory(directory.deletingLastPathComponent())
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw error
        }
    }

    /// The loaded pair through the llava-hf writer, with the template `auto` picks for the GGUF
    /// pair (from the file's name when the mmproj names none) written down so that it stays.
    private static func writeLLaVAHF(_ model: LLaVAModel, to directory: URL, dtype: DType) throws {
        var config = model.configuration
        config.conversationTemplate = ConversationTemplate.automatic(for: model).name
        let decoder = TrainableDecoder(weights: model.language.weights, config: model.language.config, mode: .frozen)
        let projector = TrainableProjector(model.projector, names: ["multi_modal_projector.linear_1", "multi_modal_projector.linear_2"],
                                           lrScale: 1)
        try ModelExport.writeLLaVAHF(to: directory, decoder: decoder, projector: projector, vision: model.vision, llava: config,
                                     tokenizerDirectory: directory, imageProcessor: model.imageProcessor.configuration, dtype: dtype)
    }

    /// `generation_config.json`: the special ids, greedy unless asked otherwise.
    private static func writeGenerationConfig(_ c: LlamaConfiguration, to directory: URL) throws {
        var json: [String: Any] = ["_from_model_config": true]
        json["bos_token_id"] = c.bosTokenID
        json["eos_token_id"] = c.eosTokenIDs.count == 1 ? c.eosTokenIDs[0] as Any : (c.eosTokenIDs.isEmpty ? nil : c.eosTokenIDs)
        json["pad_token_id"] = c.padTokenID
        try ModelExport.writeJSON(json, to: directory.appendingPathComponent("generation_config.json"))
    }
}
