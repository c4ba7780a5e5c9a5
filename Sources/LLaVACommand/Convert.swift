import ArgumentParser
import Checkpoint
import Foundation
import Logging
import Tensor
import Training

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a model directory with its weights stored as f32, f16 or bf16, or turn GGUF files into one.",
        discussion: """
            A safetensors directory is copied with its floating-point weights re-typed; compute stays f32 whatever \
            the storage. A GGUF language model (a .gguf file or a folder of them) becomes a Hugging Face directory \
            that transformers loads: with its mmproj a llava-hf LlavaForConditionalGeneration, else a LlamaForCausalLM. \
            Quantised tensors (Q8_0, Q4_0, Q4_K, Q6_K, ...) are expanded exactly, then stored in --dtype.
                llava convert --model ggml-model-q4_k.gguf --mmproj mmproj-model-f16.gguf --output llava-hf
            """)

    @Option(help: "Model directory, or a GGUF language model (a .gguf file or a folder holding it and its mmproj).") var model: String
    @Option(help: "The mmproj GGUF (CLIP tower and projector) of a GGUF --model.") var mmproj: String?
    @Option(help: "Storage type: f32, f16 or bf16.") var dtype: WeightType = .f16
    @Option(help: "Output directory (created; from GGUF it must be new or empty, and is written whole).") var output: String

    func run() throws {
        let src = URL(fileURLWithPath: model), dst = URL(fileURLWithPath: output)
        if let files = try GGUFModelFiles(path: model, mmproj: mmproj) {
            let inputs = [src, files.model, files.model.deletingLastPathComponent()] + (files.mmproj.map { [$0] } ?? [])
            guard !inputs.contains(where: { $0.standardizedFileURL == dst.standardizedFileURL }) else {
                throw ValidationError("--output must be a new directory, not --model, --mmproj or the folder holding them")
            }
            try GGUFConversion.writeHF(model: files.model, mmproj: files.mmproj, to: dst, dtype: dtype.dtype,
                                       logger: Logger(label: "llava.convert"))
            printErr("wrote \(output) (\(files.mmproj == nil ? "LlamaForCausalLM" : "LlavaForConditionalGeneration"), \(dtype.rawValue))")
            return
        }
        if mmproj != nil { throw ValidationError("--mmproj goes with a GGUF --model (a .gguf file or a folder of them); \(model) is not one") }
        guard src.standardizedFileURL != dst.standardizedFileURL else { throw ValidationError("--output must differ from --model") }
        try retype(src, to: dst)
    }

    /// A safetensors directory copied with its float tensors stored as --dtype.
    private func retype(_ src: URL, to dst: URL) throws {
        let store = try WeightStore(directory: src)
        try FileManager.default.createDirectory(at: dst, withIntermediateDirectories: true)
        let tensors = try store.tensorNames.map { (name: $0, tensor: try store.tensor($0)) }
        try SafeTensorsWriter.write(tensors, storing: dtype.dtype, metadata: ["format": "pt"],
                                    to: dst.appendingPathComponent("model.safetensors"))
        let skip = Set(store.files.map(\.url.lastPathComponent) + [WeightStore.indexFileName])
        for file in try FileManager.default.contentsOfDirectory(atPath: src.path).sorted() where !skip.contains(file) {
            let from = src.appendingPathComponent(file), to = dst.appendingPathComponent(file)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: from.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            var data = try Data(contentsOf: from)
            if file == "config.json" { data = retypedConfig(data) }
            try data.write(to: to, options: .atomic)
        }
        printErr("wrote \(output) (\(tensors.count) tensors as \(dtype.rawValue))")
    }

    /// config.json with its `torch_dtype` (and nested ones) naming the new storage type, edited as text.
    private func retypedConfig(_ data: Data) -> Data {
        let name = ModelExport.torchName(dtype.dtype)
        var text = String(decoding: data, as: UTF8.self)
        for old in ["float32", "float16", "bfloat16"] where old != name {
            text = text.replacingOccurrences(of: "\"torch_dtype\" : \"\(old)\"", with: "\"torch_dtype\" : \"\(name)\"")
            text = text.replacingOccurrences(of: "\"torch_dtype\": \"\(old)\"", with: "\"torch_dtype\": \"\(name)\"")
        }
        return Data(text.utf8)
    }
}
