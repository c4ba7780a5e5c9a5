import Checkpoint
import Foundation
import LLaVA
import Language
import Tensor
import Tokenizer
import Vision

/// How a run's starting model is put together.
public struct ModelSource {
    /// A bare LLM directory (stage 1, or stage 2 from a stage-1 projector), or a LLaVA checkpoint.
    public var modelPath: URL
    /// The CLIP tower directory (needed with a bare LLM, and for original-layout LLaVA checkpoints).
    public var visionTower: URL?
    /// A stage-1 projector (`mm_projector.safetensors`, keys `model.mm_projector.*`) to start from.
    public var projectorFile: URL?
    /// Used only when the projector starts random (a bare LLM without `projectorFile`).
    public var projectorKind: ProjectorKind = .mlp(depth: 2)
    public var visionFeatureLayer: Int = -2
    public var featureSelection: CLIPFeatureSelection = .default
    public var padsImagesToSquare: Bool = false
    public var seed: UInt64 = 42

    public init(modelPath: URL, visionTower: URL? = nil, projectorFile: URL? = nil) {
        self.modelPath = modelPath
        self.visionTower = visionTower
        self.projectorFile = projectorFile
    }

    /// Loads or assembles the model.
    public func load() throws -> LLaVAModel {
        let configURL = modelPath.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TrainingError.missingFile(configURL.path)
        }
        let model: LLaVAModel
        if LLaVAConfiguration.describesLLaVA(json) {
            model = try LLaVAModel(directory: modelPath, visionTower: visionTower)
        } else {
            model = try assemble()
        }
        guard let projectorFile else { return model }
        return try model.replacingProjector(try loadProjector(projectorFile, model: model))
    }

    /// Whether `load()` gives a projector no run has trained yet: a bare LLM without a projector file.
    public var startsNewProjector: Bool {
        guard projectorFile == nil else { return false }
        let configURL = modelPath.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return true }
        return !LLaVAConfiguration.describesLLaVA(json)
    }

    /// A new LLaVA from an LLM and a CLIP tower, projector initialised as `nn.Linear` does.
    private func assemble() throws -> LLaVAModel {
        guard let visionTower else {
            throw TrainingError.invalidArgument("\(modelPath.path) is a bare language model: pass its CLIP tower with --vision-tower DIR")
        }
        let language = try LlamaModel(directory: modelPath)
        let vision = try CLIPVisionModel(directory: visionTower)
        let config = LLaVAConfiguration(layout: .original, text: language.config, vision: vision.config,
                                        imageTokenID: LLaVAConfiguration.originalImagePlaceholder,
                                        visionFeatureLayer: visionFeatureLayer, featureSelection: featureSelection,
                                        projector: projectorKind, padsImagesToSquare: padsImagesToSquare,
                                        visionTowerName: visionTower.path)
        let projector = Self.randomProjector(kind: projectorKind, input: vision.config.hiddenSize,
                                             output: language.config.hiddenSize, seed: seed)
        let processorFile = visionTower.appendingPathComponent("preprocessor_config.json")
        let processor = FileManager.default.fileExists(atPath: processorFile.path)
            ? try ImageProcessorConfiguration(contentsOf: processorFile) : clipProcessor(size: vision.config.imageSize)
        return LLaVAModel(configuration: config, language: language, vision: vision, projector: projector,
                          tokenizer: try Tokenizer(directory: modelPath), imageProcessor: ImageProcessor(configuration: processor),
                          name: modelPath.standardizedFileURL.lastPathComponent)
    }

    /// PyTorch's `nn.Linear` initialisation: weight and bias ~ U(-1/√in, 1/√in).
    static func randomProjector(kind: ProjectorKind, input v: Int, output d: Int, seed: UInt64) -> Projector {
        let depth: Int
        switch kind {
        case .identity: depth = 0
        case .linear: depth = 1
        case .mlp(let n): depth = n
        }
        var rng = SplitMix64(seed: seed)
        let layers = (0..<depth).map { i -> (weight: Tensor, bias: Tensor?) in
            let fanIn = i == 0 ? v : d
            let bound = 1 / Float(fanIn).squareRoot()
            return (Tensor.uniform([d, fanIn], dtype: .f32, seed: rng.next(), scale: bound),
                    Tensor.uniform([d], dtype: .f32, seed: rng.next(), scale: bound))
        }
        return Projector(kind: kind, activation: .gelu, layers: layers, inputWidth: v, outputWidth: d)
    }

    /// A stage-1 projector file: the reference's names (`model.mm_projector.0.weight`, …) or llava-hf's.
    func loadProjector(_ url: URL, model: LLaVAModel) throws -> Projector {
        let store = try WeightStore(files: [url])
        let names = store.tensorNames
        let kind: ProjectorKind
        if names.contains("model.mm_projector.weight") {
            kind = .linear
        } else {
            let depth = names.filter { $0.hasPrefix("model.mm_projector.") && $0.hasSuffix(".weight") }.count
            guard depth > 0 else {
                throw TrainingError.invalidArgument("\(url.path): no model.mm_projector.* tensors (found \(names.prefix(4).joined(separator: ", ")))")
            }
            kind = depth == 1 ? .linear : .mlp(depth: depth)
        }
        let loader = WeightLoader(store: store)
        let p = try Projector(kind: kind, activation: .gelu, bias: true, layout: .original, loader: loader,
                              inputWidth: model.vision.config.hiddenSize, outputWidth: model.language.config.hiddenSize)
        let unused = loader.unusedNames()
        guard unused.isEmpty else { throw ModelError.unexpectedWeights(names: unused, source: url.path) }
        return p.toF32()
    }
}

func clipProcessor(size: Int) -> ImageProcessorConfiguration {
    var c = ImageProcessorConfiguration.clip336
    c.size = .shortestEdge(size)
    c.cropHeight = size
    c.cropWidth = size
    return c
}

extension Projector {
    /// The same projector with f32 weights (mapped files are read-only; training writes).
    func toF32() -> Projector {
        Projector(kind: kind, activation: activation, layers: layers.map { ($0.weight.toF32(), $0.bias?.toF32()) },
                  inputWidth: inputWidth, outputWidth: outputWidth)
    }
}

extension LLaVAModel {
    /// This model with another projector (a stage-1 result, or a re-initialised one).
    public func replacingProjector(_ p: Projector) throws -> LLaVAModel {
        var config = configuration
        config.projector = p.kind
        return LLaVAModel(configuration: config, language: language, vision: vision, projector: p, tokenizer: tokenizer,
                          imageProcessor: imageProcessor, name: name)
    }
}
