import Checkpoint
import Foundation
import LLaVA
import Tensor
import Vision

// A LoRA run's adapter folder, laid out as the reference's LoRA runs leave theirs, so that a
// merge rebuilds exactly the model the run wrote to OUT/model:
//
//   adapter_model.safetensors         base_model.model.<module>.lora_{A,B}.weight     (PEFT)
//   adapter_config.json               PEFT's keys, base_model_name_or_path, `llava_base`
//   non_lora_trainables.safetensors   base_model.model.model.mm_projector.*  (f32)
//
// The projector trains beside the adapters (at --mm-projector-lr), so the adapters alone do not
// make the run's model. `llava_base` records what the merge checks the base against (decoder
// width, depth, vocabulary; projector kind and input width) and how the run assembled a bare
// LLM (feature layer and selection, padding).

/// A merge that cannot rebuild the run's model, naming the file and key concerned.
public enum AdapterError: Error, CustomStringConvertible, Equatable {
    case missingFile(file: String, reason: String)
    case invalidConfig(file: String, key: String, reason: String)
    case baseMismatch(file: String, key: String, adapter: String, base: String)
    case missingTensor(file: String, key: String)
    case unexpectedTensors(file: String, keys: [String])
    case tensorShape(file: String, key: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missingFile(let file, let reason):
            return "\(file): not found: \(reason)"
        case .invalidConfig(let file, let key, let reason):
            return "\(file): key '\(key)': \(reason)"
        case .baseMismatch(let file, let key, let adapter, let base):
            return "\(file): key '\(key)' is \(adapter) but the base model has \(base): this adapter was trained on another base"
        case .missingTensor(let file, let key):
            return "\(file): missing tensor '\(key)'"
        case .unexpectedTensors(let file, let keys):
            return "\(file): tensor(s) the merge does not know: \(keys.prefix(5).joined(separator: ", "))\(keys.count > 5 ? ", …" : "")"
        case .tensorShape(let file, let key, let expected, let found):
            return "\(file): tensor '\(key)' has shape \(found), the base needs \(expected)"
        }
    }
}

/// The base a LoRA run started from, as `adapter_config.json` records it under `llava_base`.
public struct AdapterBase: Equatable, Sendable {
    public var hiddenSize: Int
    public var layerCount: Int
    public var vocabularySize: Int
    public var projector: ProjectorKind
    /// `mm_hidden_size`: the vision features' width.
    public var visionHiddenSize: Int
    public var visionFeatureLayer: Int
    public var featureSelection: CLIPFeatureSelection
    public var padsImagesToSquare: Bool

    public init(model: LLaVAModel) {
        hiddenSize = model.language.config.hiddenSize
        layerCount = model.language.config.layerCount
        vocabularySize = model.language.config.vocabularySize
        projector = model.projector.kind
        visionHiddenSize = model.vision.config.hiddenSize
        visionFeatureLayer = model.configuration.visionFeatureLayer
        featureSelection = model.configuration.featureSelection
        padsImagesToSquare = model.configuration.padsImagesToSquare
    }

    /// The reference's spellings (`mm_projector_type`, `mm_vision_select_feature`, …).
    var json: [String: Any] {
        ["hidden_size": hiddenSize, "num_hidden_layers": layerCount, "vocab_size": vocabularySize,
         "mm_projector_type": projector.description, "mm_hidden_size": visionHiddenSize,
         "mm_vision_select_layer": visionFeatureLayer, "mm_vision_select_feature": featureSelection == .full ? "cls_patch" : "patch",
         "image_aspect_ratio": padsImagesToSquare ? "pad" : "square"]
    }

    init(json: [String: Any], file: String) throws {
        func value<T>(_ key: String, _ parse: (Any) -> T?) throws -> T {
            guard let v = json[key], let t = parse(v) else {
                throw AdapterError.invalidConfig(file: file, key: "llava_base.\(key)", reason: "missing or malformed, found \(json[key] ?? "nothing")")
            }
            return t
        }
        let int = { (v: Any) in (v as? NSNumber).map(\.intValue) }
        hiddenSize = try value("hidden_size", int)
        layerCount = try value("num_hidden_layers", int)
        vocabularySize = try value("vocab_size", int)
        projector = try value("mm_projector_type") { ($0 as? String).flatMap { ProjectorKind(name: $0) } }
        visionHiddenSize = try value("mm_hidden_size", int)
        visionFeatureLayer = try value("mm_vision_select_layer", int)
        featureSelection = try value("mm_vision_select_feature") { v -> CLIPFeatureSelection? in
            switch v as? String { case "patch": return .default; case "cls_patch": return .full; default: return nil }
        }
        padsImagesToSquare = try value("image_aspect_ratio") { v -> Bool? in
            switch v as? String { case "pad": return true; case "square": return false; default: return nil }
        }
    }

    /// Refuses a base that is not the one the adapter was trained on; `file` is adapter_config.json.
    public func check(_ base: LLaVAModel, file: String) throws {
        let found = AdapterBase(model: base)
        let pairs: [(String, String, String)] = [
            ("hidden_size", "\(hiddenSize)", "\(found.hiddenSize)"),
            ("num_hidden_layers", "\(layerCount)", "\(found.layerCount)"),
            ("vocab_size", "\(vocabularySize)", "\(found.vocabularySize)"),
            ("mm_hidden_size", "\(visionHiddenSize)", "\(found.visionHiddenSize)"),
            ("mm_projector_type", projector.description, found.projector.description),
        ]
        if let (key, adapter, base) = pairs.first(where: { $0.1 != $0.2 }) {
            throw AdapterError.baseMismatch(file: file, key: "llava_base.\(key)", adapter: adapter, base: base)
        }
    }
}

/// A LoRA adapter folder's `adapter_config.json`.
public struct AdapterConfiguration: Sendable {
    public var rank: Int
    public var alpha: Float
    public var dropout: Float
    public var baseModelPath: String?
    public var base: AdapterBase
    /// The file it was read from (errors name it).
    public var file: String

    public init(directory: URL) throws {
        let url = directory.appendingPathComponent(LoRAAdapterFiles.config)
        file = url.path
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw AdapterError.missingFile(file: url.path, reason: "not a LoRA adapter folder written by `llava train finetune --lora-r N`")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw AdapterError.invalidConfig(file: url.path, key: "", reason: "not a JSON object")
        }
        guard let r = (json["r"] as? NSNumber)?.intValue, r > 0, let a = (json["lora_alpha"] as? NSNumber)?.floatValue else {
            throw AdapterError.invalidConfig(file: url.path, key: "r", reason: "r (a positive integer) and lora_alpha are required")
        }
        guard let base = json["llava_base"] as? [String: Any] else {
            throw AdapterError.invalidConfig(file: url.path, key: "llava_base",
                                             reason: "missing: the adapter was written by an older `llava`; retrain, or merge from the run's OUT/model")
        }
        (rank, alpha, dropout) = (r, a, (json["lora_dropout"] as? NSNumber)?.floatValue ?? 0)
        baseModelPath = json["base_model_name_or_path"] as? String
        self.base = try AdapterBase(json: base, file: url.path)
    }
}

/// Writing and reading the adapter folder.
public enum LoRAAdapterFiles {
    public static let adapter = "adapter_model.safetensors"
    public static let config = "adapter_config.json"
    public static let nonLoRATrainables = "non_lora_trainables.safetensors"
    /// PEFT wraps the model twice: `base_model` (the LoraModel) `.model` (the LLaVA model).
    static let peftPrefix = "base_model.model."

    /// Writes the adapter, its config (with `llava_base` from `model`, the run's starting model)
    /// and the projector as non-LoRA trainables.
    public static func write(_ decoder: TrainableDecoder, projector: TrainableProjector, model: LLaVAModel,
                             basePath: String, to directory: URL) throws {
        guard case .lora(let rank, let alpha, let dropout) = decoder.mode else {
            throw TrainingError.invalidArgument("the decoder has no LoRA adapter to write")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = decoder.blocks.flatMap(\.linears).flatMap { l -> [(name: String, tensor: Tensor)] in
            guard let a = l.lora else { return [] }
            return [(peftPrefix + a.a.name, a.a.value), (peftPrefix + a.b.name, a.b.value)]
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent(adapter))
        let trainables = projector.exportTensors(names: ModelExport.referenceProjectorNames(projector.kind).map { peftPrefix + $0 })
        try SafeTensorsWriter.write(trainables.map { ($0.name, $0.tensor.toF32()) }, metadata: ["format": "pt"],
                                    to: directory.appendingPathComponent(nonLoRATrainables))
        let json: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": Double(alpha), "lora_dropout": Double(dropout),
            "bias": "none", "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            "base_model_name_or_path": basePath, "llava_base": AdapterBase(model: model).json,
        ]
        try ModelExport.writeJSON(json, to: directory.appendingPathComponent(config))
    }

    static let reasons = [
        adapter: "the LoRA weights of `llava train finetune --lora-r N`",
        nonLoRATrainables: "the projector trained beside the LoRA weights, needed to merge them (an adapter folder "
            + "written by an older `llava` has only the LoRA weights; use the run's OUT/model instead)",
    ]

    /// Refuses a folder without the weight files a merge reads, naming the one missing.
    public static func requireFiles(in directory: URL) throws {
        for name in [adapter, nonLoRATrainables] {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw AdapterError.missingFile(file: url.path, reason: reasons[name] ?? "")
            }
        }
    }

    /// Reads the LoRA weights into a LoRA decoder of the adapter's rank; every tensor must be used.
    public static func loadAdapter(_ directory: URL, into decoder: TrainableDecoder) throws {
        let url = directory.appendingPathComponent(adapter)
        let file = try open(url)
        var unused = Set(file.tensorNames)
        for p in decoder.blocks.flatMap(\.linears).compactMap(\.lora).flatMap({ [$0.a, $0.b] }) {
            let v = try take(file, peftPrefix + p.name, shape: p.value.shape).toFloatArray()
            v.withUnsafeBufferPointer { p.value.floats.update(from: $0.baseAddress!, count: v.count) }
            unused.remove(peftPrefix + p.name)
        }
        guard unused.isEmpty else { throw AdapterError.unexpectedTensors(file: url.path, keys: unused.sorted()) }
    }

    /// The projector the run trained, from `non_lora_trainables.safetensors`, shaped and
    /// activated as `base`'s. Keys are read as the reference's merge reads them: without
    /// `base_model.`, then without `model.` when `model.model.` follows.
    public static func loadProjector(_ directory: URL, like base: Projector) throws -> Projector {
        let url = directory.appendingPathComponent(nonLoRATrainables)
        let file = try open(url)
        var keyOf: [String: String] = [:]  // reference name → the file's key
        for key in file.tensorNames { keyOf[referenceName(key)] = key }
        var unused = Set(file.tensorNames)
        func load(_ name: String, _ shape: [Int]) throws -> Tensor {
            let key = keyOf[name] ?? peftPrefix + name
            unused.remove(key)
            return try take(file, key, shape: shape).toF32()
        }
        let names = ModelExport.referenceProjectorNames(base.kind)
        let layers = try zip(base.layers, names).map { layer, name in
            (weight: try load(name + ".weight", layer.weight.shape), bias: try layer.bias.map { try load(name + ".bias", $0.shape) })
        }
        guard unused.isEmpty else { throw AdapterError.unexpectedTensors(file: url.path, keys: unused.sorted()) }
        return Projector(kind: base.kind, activation: base.activation, layers: layers,
                         inputWidth: base.inputWidth, outputWidth: base.outputWidth)
    }

    /// `base_model.model.model.mm_projector.0.weight` → `model.mm_projector.0.weight` (llava/model/builder.py).
    static func referenceName(_ key: String) -> String {
        var name = key.hasPrefix("base_model.") ? String(key.dropFirst("base_model.".count)) : key
        if name.hasPrefix("model.model.") { name = String(name.dropFirst("model.".count)) }
        return name
    }

    private static func open(_ url: URL) throws -> SafeTensorsFile {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw AdapterError.missingFile(file: url.path, reason: reasons[url.lastPathComponent] ?? "")
        }
        return try SafeTensorsFile(url: url)
    }

    private static func take(_ file: SafeTensorsFile, _ key: String, shape: [Int]) throws -> Tensor {
        guard file.info(key) != nil else { throw AdapterError.missingTensor(file: file.url.path, key: key) }
        let t = try file.tensor(key)
        guard t.shape == shape else { throw AdapterError.tensorShape(file: file.url.path, key: key, expected: shape, found: t.shape) }
        return t
    }
}
