import Checkpoint
import Foundation
import Language
import Logging
import Tensor
import Tokenizer
import Vision

// Shape legend: P features per image, V vision width, D LLM width, T input positions.

/// How an image is fitted to the tower's square input.
public enum ImageAspectMode: String, Sendable, CaseIterable {
    /// What the checkpoint's own pipeline does: pad for original LLaVA-1.5 (`image_aspect_ratio: pad`),
    /// resize + centre crop for llava-hf (its processor does not pad).
    case auto
    /// Pad to a square with the mean colour first (LLaVA-1.5's reference).
    case pad
    /// Resize the short side and centre-crop (the CLIP processor alone).
    case crop
}

/// A LLaVA model: CLIP vision tower → projector → LLaMA-family decoder, with its tokenizer
/// and image processor, loaded from either checkpoint layout.
///
/// ```swift
/// let model = try LLaVAModel(directory: URL(fileURLWithPath: "/models/llava-1.5-7b-hf"))
/// let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "cat.jpg"))
/// let session = ChatSession(model: model)
/// for try await piece in session.send("What is in this picture?", images: [image]) {
///     print(piece, terminator: "")
/// }
/// ```
public final class LLaVAModel: @unchecked Sendable {
    public let configuration: LLaVAConfiguration
    public let language: LlamaModel
    public let vision: CLIPVisionModel
    public let projector: Projector
    public let tokenizer: Tokenizer
    public let imageProcessor: ImageProcessor
    /// The directory's name, as the reference uses it to pick a conversation template.
    public let name: String

    public init(configuration: LLaVAConfiguration, language: LlamaModel, vision: CLIPVisionModel,
                projector: Projector, tokenizer: Tokenizer, imageProcessor: ImageProcessor, name: String) {
        self.configuration = configuration
        self.language = language
        self.vision = vision
        self.projector = projector
        self.tokenizer = tokenizer
        self.imageProcessor = imageProcessor
        self.name = name
    }

    /// Loads a llava-hf directory, or an original-layout one with its CLIP tower from
    /// `visionTower` (or from `mm_vision_tower` when that names a local directory).
    public convenience init(directory: URL, visionTower: URL? = nil, logger: Logger? = nil) throws {
        var config = try LLaVAConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        let store = try WeightStore(directory: directory)
        let loader = WeightLoader(store: store)
        let language = LlamaModel(config: config.text,
                                  weights: try LlamaWeights(loader: loader, config: config.text, source: directory.path))
        let vision: CLIPVisionModel
        var processorFile = directory.appendingPathComponent("preprocessor_config.json")
        switch config.layout {
        case .llavaHF:
            if let visionTower { throw LLaVAError.unusedVisionTower(tower: visionTower.path, checkpoint: directory.path) }
            guard let prefix = CLIPVisionModel.detectPrefix(in: store), let vc = config.vision else {
                throw LLaVAError.missingVisionTower(name: "vision_tower.*", checkpoint: directory.path)
            }
            vision = try CLIPVisionModel(config: vc, loader: loader, prefix: prefix)
        case .original:
            let towerDirectory = try Self.locateTower(visionTower, named: config.visionTowerName, checkpoint: directory)
            vision = try CLIPVisionModel(directory: towerDirectory)
            config.vision = vision.config
            processorFile = towerDirectory.appendingPathComponent("preprocessor_config.json")
        }
        let towerWidth = vision.config.hiddenSize
        if let expected = config.visionHiddenSize, expected != towerWidth {
            throw LLaVAError.visionWidthMismatch(projectorInput: expected, towerOutput: towerWidth)
        }
        let projector = try Projector(kind: config.projector, activation: config.projectorActivation,
                                      bias: config.projectorBias, layout: config.layout, loader: loader,
                                      inputWidth: towerWidth, outputWidth: config.text.hiddenSize)
        // Buffers and tensors that carry no weights the model uses.
        loader.skip { $0.hasSuffix("embeddings.position_ids") || $0.hasSuffix(".rotary_emb.inv_freq") }
        let unused = loader.unusedNames()
        if !unused.isEmpty { throw ModelError.unexpectedWeights(names: unused, source: directory.path) }

        let processorConfig: ImageProcessorConfiguration
        if FileManager.default.fileExists(atPath: processorFile.path) {
            processorConfig = try ImageProcessorConfiguration(contentsOf: processorFile)
        } else {
            var clip = ImageProcessorConfiguration.clip336
            clip.size = .shortestEdge(vision.config.imageSize)
            clip.cropHeight = vision.config.imageSize
            clip.cropWidth = vision.config.imageSize
            processorConfig = clip
            logger?.warning("\(processorFile.path) not found: using CLIP's preprocessing at \(vision.config.imageSize) px")
        }
        self.init(configuration: config, language: language, vision: vision, projector: projector,
                  tokenizer: try Tokenizer(directory: directory), imageProcessor: ImageProcessor(configuration: processorConfig),
                  name: directory.standardizedFileURL.lastPathComponent)
    }

    private static func locateTower(_ given: URL?, named name: String?, checkpoint: URL) throws -> URL {
        if let given { return given }
        if let name, FileManager.default.fileExists(atPath: URL(fileURLWithPath: name).appendingPathComponent("config.json").path) {
            return URL(fileURLWithPath: name)
        }
        throw LLaVAError.missingVisionTower(name: name, checkpoint: checkpoint.path)
    }

    /// Feature rows each image contributes: patches, plus the class token with `full`.
    public var featuresPerImage: Int {
        let patches = vision.config.patchesPerSide * vision.config.patchesPerSide
        return configuration.featureSelection == .full ? patches + 1 : patches
    }

    public var promptEncoder: PromptEncoder {
        PromptEncoder(layout: configuration.layout, tokenizer: tokenizer,
                      imageTokenID: configuration.imageTokenID, featuresPerImage: featuresPerImage)
    }

    /// Whether images are padded to a square before the CLIP processor under `mode`.
    public func padsToSquare(_ mode: ImageAspectMode) -> Bool {
        switch mode {
        case .auto: return configuration.padsImagesToSquare
        case .pad: return true
        case .crop: return false
        }
    }

    /// The tower's input for one image: (C, H, W) normalised pixels.
    public func pixelValues(for image: RGBImage, aspect: ImageAspectMode = .auto) -> PixelValues {
        let fitted = padsToSquare(aspect) ? expandToSquare(image, background: imageProcessor.configuration.meanColor) : image
        return imageProcessor.preprocess(fitted)
    }

    /// Projected features of one image: (P, D), ready to splice into the prompt.
    public func encode(_ image: RGBImage, aspect: ImageAspectMode = .auto) throws -> [Float] {
        try project(pixelValues: pixelValues(for: image, aspect: aspect).values)
    }

    /// Vision tower + projector on preprocessed pixels.
    public func project(pixelValues: [Float]) throws -> [Float] {
        let features = try vision.features(pixelValues: pixelValues, featureLayer: configuration.visionFeatureLayer,
                                           selection: configuration.featureSelection)
        return projector.forward(features, rows: features.count / vision.config.hiddenSize)
    }

    /// The decoder's input embeddings (T, D) for `items`: token embeddings, with image
    /// positions taken from `images[k]` (each (P, D)).
    public func embeddings(for items: ArraySlice<InputItem>, images: [Int: [Float]]) throws -> [Float] {
        let d = configuration.text.hiddenSize
        var out = [Float](repeating: 0, count: items.count * d)
        try out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            for (t, item) in items.enumerated() {
                switch item {
                case .token(let id):
                    guard id >= 0 && id < configuration.text.vocabularySize else {
                        throw ModelError.tokenOutOfRange(id: id, vocabularySize: configuration.text.vocabularySize)
                    }
                    language.embed([id], into: base + t * d)
                case .image(let k, let row):
                    guard let features = images[k], features.count == featuresPerImage * d else {
                        throw LLaVAError.imageFeatureCountMismatch(tokens: featuresPerImage, features: (images[k]?.count ?? 0) / d)
                    }
                    features.withUnsafeBufferPointer { (base + t * d).update(from: $0.baseAddress! + row * d, count: d) }
                }
            }
        }
        return out
    }
}

extension InputItem {
    /// The token id this position carries for the repetition penalty (images: the image token).
    func historyID(imageToken: Int) -> Int {
        switch self {
        case .token(let id): return id
        case .image: return imageToken
        }
    }
}

extension LLaVAModel {
    /// One-shot generation: `prompt` is the final text (template already applied) with one
    /// `<image>` marker per image.
    public func generate(prompt: String, images: [RGBImage], parameters: GenerationParameters,
                         aspect: ImageAspectMode = .auto,
                         onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        try generate(prompt: prompt, imageFeatures: images.map { try encode($0, aspect: aspect) },
                     parameters: parameters, onText: onText)
    }

    /// One-shot generation with images already encoded (`encode(_:aspect:)`, each (P, D)):
    /// several questions about one image pay for its tower once.
    public func generate(prompt: String, imageFeatures: [[Float]], parameters: GenerationParameters,
                         onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        var features: [Int: [Float]] = [:]
        for (k, f) in imageFeatures.enumerated() { features[k] = f }
        let items = try promptEncoder.encode(prompt, imageCount: imageFeatures.count)
        let imageToken = configuration.layout == .llavaHF ? configuration.imageTokenID : -1
        let ids = items.map { $0.historyID(imageToken: imageToken) }
        let embeddings = try self.embeddings(for: items[...], images: features)
        let generator = TextGenerator(model: language, tokenizer: tokenizer)
        return try generator.generate(prompt: ids, embeddings: embeddings, parameters: parameters, onText: onText)
    }
}
