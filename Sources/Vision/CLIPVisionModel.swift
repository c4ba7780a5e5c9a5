import Checkpoint
import Foundation
import Tensor

// Shape legend: C channels, S image side, P patch side, N = (S/P)² patches,
// T = N + 1 token rows (class token first), D hidden size, F MLP size, L layers.

/// Which rows of the selected hidden state become image features
/// (HF `vision_feature_select_strategy`).
public enum CLIPFeatureSelection: String, Sendable {
    /// The N patch rows; the class token is dropped (LLaVA's `select_feature="patch"`).
    case `default`
    /// All T rows, class token first.
    case full
}

/// A CLIP ViT vision tower (HF `CLIPVisionModel`): patch convolution → + class token →
/// + learned positions → pre-LayerNorm → L pre-norm encoder layers.
///
/// Hidden states follow HF's `output_hidden_states` numbering: state 0 is the embeddings
/// after `pre_layrnorm`, state i the output of layer i, so feature layer -2 (LLaVA's
/// choice) is the output of layer L-1, and the last layer is then never run.
///
/// One model serves many threads, one forward at a time: its scratch buffers are reused
/// across calls, and a lock serialises forwards (each is multithreaded inside).
///
/// ```swift
/// let tower = try CLIPVisionModel(directory: URL(fileURLWithPath: "/models/clip-vit-large-patch14-336"))
/// let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "cat.jpg"))
/// let pixels = ImageProcessor(configuration: .clip336).preprocess(image)   // (3, 336, 336)
/// let features = try tower.features(pixelValues: pixels.values, featureLayer: -2, selection: .default)
/// // features.count == 576 * 1024
/// ```
public final class CLIPVisionModel: @unchecked Sendable {
    public let config: CLIPVisionConfiguration
    public let weights: CLIPVisionWeights
    private let state = CLIPRunState()
    private let lock = NSLock()

    public init(config: CLIPVisionConfiguration, weights: CLIPVisionWeights) {
        self.config = config
        self.weights = weights
    }

    /// Takes the tower's tensors (`prefix + …`, shape-checked) from `loader`; tensors of
    /// other parts of the checkpoint are left for the caller to take or reject.
    public convenience init(config: CLIPVisionConfiguration, loader: WeightLoader, prefix: String) throws {
        self.init(config: config, weights: try CLIPVisionWeights(loader: loader, config: config, prefix: prefix))
    }

    /// Loads a bare CLIP directory (`config.json` + safetensors) as transformers saves a
    /// `CLIPModel` or a `CLIPVisionModel`. The text tower and the projections of a
    /// `CLIPModel` are skipped; any other tensor the tower does not use is an error.
    public convenience init(directory: URL) throws {
        let config = try CLIPVisionConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        let loader = try WeightLoader(directory: directory)
        guard let prefix = Self.detectPrefix(in: loader.store) else {
            throw CLIPVisionError.noVisionTower(source: directory.path,
                                                looked: CLIPWeightPrefix.known.map { $0 + CLIPWeightPrefix.probe })
        }
        try self.init(config: config, loader: loader, prefix: prefix)
        let unused = loader.unusedNames().filter { !CLIPWeightPrefix.isCLIPTextSide($0) }
        if !unused.isEmpty { throw CLIPVisionError.unexpectedWeights(names: unused, source: directory.path) }
    }

    /// The prefix under which `store` keeps a CLIP vision tower (one of
    /// ``CLIPWeightPrefix/known``), or nil if it holds none.
    public static func detectPrefix(in store: WeightStore) -> String? {
        CLIPWeightPrefix.known.first { store.contains($0 + CLIPWeightPrefix.probe) }
    }

    // MARK: - Features

    /// Hidden state `featureLayer` (HF indexing: 0 = embeddings, L = last layer, negative
    /// counts from the end, so -1 = L and -2 = L-1), with rows per `selection`:
    /// (N, D) for `.default`, (T, D) for `.full`, row-major.
    public func features(pixelValues: [Float], featureLayer: Int, selection: CLIPFeatureSelection) throws -> [Float] {
        let hidden = try forward(pixelValues: pixelValues, throughLayer: featureLayer, observe: nil)
        return selection == .full ? hidden : Array(hidden.dropFirst(config.hiddenSize))
    }

    /// ``features(pixelValues:featureLayer:selection:)`` of each image in turn.
    public func features(batch: [[Float]], featureLayer: Int, selection: CLIPFeatureSelection) throws -> [[Float]] {
        try batch.map { try features(pixelValues: $0, featureLayer: featureLayer, selection: selection) }
    }

    /// `post_layernorm` of the last layer's class-token row, (D): HF's `pooler_output`.
    /// Runs every layer; LLaVA does not use it.
    public func pooledOutput(pixelValues: [Float]) throws -> [Float] {
        let hidden = try forward(pixelValues: pixelValues, throughLayer: config.layerCount, observe: nil)
        let d = config.hiddenSize
        var out = [Float](repeating: 0, count: d)
        hidden.withUnsafeBufferPointer { h in
            out.withUnsafeMutableBufferPointer { o in
                layerNormForward(o.baseAddress!, h.baseAddress!, weight: weights.postNormWeight.floats,
                                 bias: weights.postNormBias.floats, rows: 1, dim: d, eps: config.layerNormEps)
            }
        }
        return out
    }

    // MARK: - Forward

    /// The index into HF's `hidden_states` (length L+1) that `featureLayer` names.
    public func hiddenStateIndex(_ featureLayer: Int) throws -> Int {
        let l = config.layerCount
        guard featureLayer >= -(l + 1) && featureLayer <= l else {
            throw CLIPVisionError.featureLayerOutOfRange(value: featureLayer, layerCount: l)
        }
        return featureLayer < 0 ? l + 1 + featureLayer : featureLayer
    }

    /// Runs one image (C, S, S) up to hidden state `throughLayer` (HF indexing, negative
    /// from the end) and returns that state, (T, D). Layers after it are not run.
    /// `observe(i, hidden)` sees every state computed on the way, i = 0 … the target,
    /// each (T, D); the pointer is valid only during the call.
    public func forward(pixelValues: [Float], throughLayer: Int,
                        observe: ((Int, UnsafePointer<Float>) -> Void)?) throws -> [Float] {
        let target = try hiddenStateIndex(throughLayer)
        let c = config
        let expected = c.channelCount * c.imageSize * c.imageSize
        guard pixelValues.count == expected else {
            throw CLIPVisionError.pixelCountMismatch(expected: expected, found: pixelValues.count,
                                                     channels: c.channelCount, imageSize: c.imageSize)
        }
        lock.lock()
        defer { lock.unlock() }
        let s = state, t = c.positionCount, d = c.hiddenSize
        s.prepare(config: c)
        pixelValues.withUnsafeBufferPointer { embed($0.baseAddress!, into: s) }
        observe?(0, s.x)
        for l in 0..<target {
            block(l, state: s)
            observe?(l + 1, s.x)
        }
        return Array(UnsafeBufferPointer(start: s.x, count: t * d))
    }

    /// Patch convolution as im2col + GEMM, class token, positions, pre-LayerNorm → s.x (T, D).
    private func embed(_ pixels: UnsafePointer<Float>, into s: CLIPRunState) {
        let c = config, d = c.hiddenSize, t = c.positionCount, n = c.patchCount
        im2col(pixels, into: s.patches)
        // Patch rows land in rows 1..<T; row 0 is the class token.
        linearForward(s.xb + d, s.patches, weight: weights.patchEmbedding, rows: n, scratch: s.widen)
        s.xb.update(from: weights.classEmbedding.floats, count: d)
        addInPlace(s.xb, weights.positionEmbedding.floats, count: t * d)
        layerNormForward(s.x, s.xb, weight: weights.preNormWeight.floats, bias: weights.preNormBias.floats,
                         rows: t, dim: d, eps: c.layerNormEps)
    }

    /// One row per patch (row-major over the patch grid), each the patch's pixels in the
    /// conv kernel's order (channel, y, x): (N, C*P*P).
    private func im2col(_ pixels: UnsafePointer<Float>, into rows: UnsafeMutablePointer<Float>) {
        let c = config, p = c.patchSize, side = c.imageSize, grid = c.patchesPerSide
        let k = c.channelCount * p * p
        parallelFor(c.patchCount, minChunk: 16) { patches in
            for index in patches {
                let py = index / grid, px = index % grid
                let row = rows + index * k
                for ch in 0..<c.channelCount {
                    for y in 0..<p {
                        let src = pixels + ch * side * side + (py * p + y) * side + px * p
                        (row + (ch * p + y) * p).update(from: src, count: p)
                    }
                }
            }
        }
    }
}
