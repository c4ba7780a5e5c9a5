import ArgumentParser
import Checkpoint
import Foundation
import Tensor

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a model directory with its floating-point weights stored as f32, f16 or bf16.",
        discussion: "Compute stays f32 whatever the storage; f16 halves the size on disk and in memory.")

    @Option(help: "Model directory.") var model: String
    @Option(help: "Storage type: f32, f16 or bf16.") var dtype: WeightType = .f16
    @Option(help: "Output directory (created).") var output: String

    func run() throws {
        let src = URL(fileURLWithPath: model), dst = URL(fileURLWithPath: output)
        guard src.standardizedFileURL != dst.standardizedFileURL else { throw ValidationError("--output must differ from --model") }
        let store = try WeightStore(directory: src)
        try FileManager.default.createDirectory(at: dst, withIntermediateDirectories: true)
        let tensors = try store.tensorNames.map { name -> (name: String, tensor: Tensor) in
            let t = try store.tensor(name)
            return (name, t.dtype.isFloat ? t.converted(to: dtype.dtype) : t)
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: dst.appendingPathComponent("model.safetensors"))
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
        let name = ["f32": "float32", "f16": "float16", "bf16": "bfloat16"][dtype.rawValue]!
        var text = String(decoding: data, as: UTF8.self)
        for old in ["float32", "float16", "bfloat16"] where old != name {
            text = text.replacingOccurrences(of: "\"torch_dtype\" : \"\(old)\"", with: "\"torch_dtype\" : \"\(name)\"")
            text = text.replacingOccurrences(of: "\"torch_dtype\": \"\(old)\"", with: "\"torch_dtype\": \"\(name)\"")
        }
        return Data(text.utf8)
    }
}
