import Checkpoint
import Foundation
import LLaVA
import Tensor
import Vision

// Shape legend: P feature rows per image, W vision width.

/// Vision features (P, W) of the data set's images: the frozen tower runs once per image,
/// either ahead of time into a cache file (`llava train cache-features`) or on first use.
public final class ImageFeatures {
    public let model: LLaVAModel
    public let imageFolder: URL
    public let aspect: ImageAspectMode
    private let cache: SafeTensorsFile?
    private var memo: [String: [Float]] = [:]
    private let memoLimit: Int

    /// - Parameters:
    ///   - cacheFile: a file written by `write(…)`; images missing from it are computed.
    ///   - memoLimit: computed features kept in memory (each is P·W floats).
    public init(model: LLaVAModel, imageFolder: URL, aspect: ImageAspectMode, cacheFile: URL? = nil,
                memoLimit: Int = 4096) throws {
        self.model = model
        self.imageFolder = imageFolder
        self.aspect = aspect
        self.memoLimit = memoLimit
        if let cacheFile {
            let file = try SafeTensorsFile(url: cacheFile)
            let expected = Self.metadata(model: model, aspect: aspect)
            for (key, value) in expected where Self.normalised(key, file.metadata[key], model: model) != value {
                throw TrainingError.invalidArgument("\(cacheFile.path): features were cached with \(key) = \(file.metadata[key] ?? "unset"), this run needs \(value)")
            }
            cache = file
        } else {
            cache = nil
        }
    }

    /// What a cache must agree on to be reused. The feature layer is counted from the front (of
    /// the tower's layers + 1 hidden states), so -5 and 0 of a 4-layer tower are the same cache.
    static func metadata(model: LLaVAModel, aspect: ImageAspectMode) -> [String: String] {
        ["feature_layer": "\(hiddenStateIndex(model.configuration.visionFeatureLayer, model: model))",
         "selection": model.configuration.featureSelection.rawValue,
         "pad_to_square": "\(model.padsToSquare(aspect))",
         "rows": "\(model.featuresPerImage)", "width": "\(model.vision.config.hiddenSize)"]
    }

    /// The index into the tower's layers + 1 hidden states that `layer` (negative: from the end) names.
    static func hiddenStateIndex(_ layer: Int, model: LLaVAModel) -> Int {
        layer < 0 ? model.vision.config.layerCount + 1 + layer : layer
    }

    /// A cache's metadata value as `metadata` writes it today (older caches kept the layer as given).
    static func normalised(_ key: String, _ value: String?, model: LLaVAModel) -> String? {
        guard key == "feature_layer", let value, let layer = Int(value) else { return value }
        return "\(hiddenStateIndex(layer, model: model))"
    }

    /// The features of the image at `path` (relative to the image folder).
    public func features(_ path: String) throws -> [Float] {
        if let f = memo[path] { return f }
        if let cache, cache.info(path) != nil { return try cache.tensor(path).toFloatArray() }
        let image = try ImageDecoder.decode(contentsOf: imageFolder.appendingPathComponent(path))
        let pixels = model.pixelValues(for: image, aspect: aspect).values
        let f = try model.vision.features(pixelValues: pixels, featureLayer: model.configuration.visionFeatureLayer,
                                          selection: model.configuration.featureSelection)
        if memo.count < memoLimit { memo[path] = f }
        return f
    }

    /// Computes every image's features once and writes them to `url` (one f32 tensor per image,
    /// named by its path), atomically, reporting progress.
    public func write(paths: [String], to url: URL, progress: (Int, Int) -> Void = { _, _ in }) throws {
        let unique = Array(Set(paths)).sorted()
        var tensors: [(name: String, tensor: Tensor)] = []
        let rows = model.featuresPerImage, width = model.vision.config.hiddenSize
        for (i, path) in unique.enumerated() {
            tensors.append((path, Tensor(try features(path), shape: [rows, width])))
            progress(i + 1, unique.count)
        }
        try SafeTensorsWriter.write(tensors, metadata: Self.metadata(model: model, aspect: aspect), to: url)
    }
}
