import Checkpoint
import Distributed
import Foundation
import Tensor
import Vision

// A whole CLIP (HF `CLIPModel`) in training: both towers, the learned temperature, the
// contrastive loss, HF's initialisation, and loading a CLIPModel checkpoint (parity tests,
// continued training).
//
// Shape legend: B image–caption pairs, C·S·S floats per image, J joint dimension.

/// A CLIP model set up for training.
///
/// ```swift
/// let model = try CLIPTrainingModel.random(vision: vision, text: text, projectionDim: 128, seed: 42)
/// zeroGradients(model.parameters)
/// let r = try model.accumulate(pixels: batchPixels, captions: batchIDs)   // loss, accuracy
/// adamw.step(model.parameters, lr: 1e-3)
/// model.clampLogitScale()
/// ```
public final class CLIPTrainingModel {
    public let vision: CLIPVisionTowerTraining
    public let text: CLIPTextTowerTraining
    public let projectionDim: Int
    /// `logit_scale`, a 0-d tensor as in HF; exp of it multiplies the cosines.
    public let logitScale: Parameter

    public init(vision v: CLIPVisionConfiguration, text t: CLIPTextConfiguration, projectionDim: Int,
                source: CLIPTensorSource) throws {
        vision = try CLIPVisionTowerTraining(config: v, projectionDim: projectionDim, source: source)
        text = try CLIPTextTowerTraining(config: t, projectionDim: projectionDim, source: source)
        self.projectionDim = projectionDim
        logitScale = Parameter(name: "logit_scale", value: try source("logit_scale", []), decays: false)
    }

    /// All trainable tensors in HF's `named_parameters` order.
    public var parameters: [Parameter] { text.parameters + vision.parameters + [logitScale] }

    /// Forward both towers on this rank's pairs, the contrastive loss over the global batch, and
    /// the backward into every gradient (accumulating). `pixels` holds the rank's b images
    /// (C, S, S) back to back; in a world of one b = B.
    ///
    /// Data parallel (open_clip's `gather_with_grad` with local loss, exact): the loss couples
    /// every pair of the global batch, so each rank all-gathers the (B, J) embeddings of both
    /// towers, runs the same full-batch loss, and backpropagates only its own rows'
    /// gradients through its towers. Each embedding row thus gets exactly its single-process
    /// gradient on exactly one rank, and the ranks' parameter gradients *sum* (the caller's
    /// allreduce) to one process's. The loss's own parameter, `logit_scale`, gets its gradient on
    /// rank 0 only, or the sum would count it once per rank.
    ///
    /// Inside the process the same split runs over the threads (`shardsAcrossThreads`,
    /// `Compute.threads` > 1): contiguous shards of the pairs, each through both towers of its
    /// own replica single-threaded; the loss sees the shards' embeddings in order, and the
    /// replicas' gradients are added to this model's in shard order.
    public func accumulate(pixels: [Float], captions: [[Int]], group: ProcessGroup = .single) throws -> CLIPContrastiveResult {
        let b = captions.count, c = vision.config, j = projectionDim
        let per = c.channelCount * c.imageSize * c.imageSize
        guard b >= 1, pixels.count == b * per else {
            throw TrainingError.invalidArgument("pixels: expected \(b) images of \(per) floats, found \(pixels.count) floats")
        }
        let shards = balancedShards(rows: [Int](repeating: 1, count: b), parts: shardsAcrossThreads ? Compute.threads : 1)
        let models = try shardModels(shards.count)
        // This rank's (b, J) embeddings of both towers, the shards' rows in order.
        var image = [Float](repeating: 0, count: b * j), txt = image
        try image.withUnsafeMutableBufferPointer { im in
            try txt.withUnsafeMutableBufferPointer { tx in
                try runShards(shards.count) { k in
                    let m = models[k], r = shards[k]
                    let e = pixels.withUnsafeBufferPointer { m.vision.forward(pixels: $0.baseAddress! + r.lowerBound * per, images: r.count) }
                    (im.baseAddress! + r.lowerBound * j).update(from: e, count: r.count * j)
                    (tx.baseAddress! + r.lowerBound * j).update(from: try m.text.forward(captions: Array(captions[r])), count: r.count * j)
                }
            }
        }
        // This rank's rows start at `first` of the global (B, J): the ranks before it, in rank order.
        let images = group.allgather(image), texts = group.allgather(txt)
        let first = group.allgather([Float(b)]).prefix(group.rank).reduce(0) { $0 + Int($1) }
        let global = images.count / j
        var dImage = [Float](repeating: 0, count: global * j), dText = dImage
        var dScale: Float = 0
        let result = CLIPContrastive.forwardBackward(image: images, text: texts, batch: global, dim: j,
                                                     logitScale: logitScale.value.floats[0], dImage: &dImage,
                                                     dText: &dText, dLogitScale: &dScale)
        if group.isRoot { logitScale.grad[0] += dScale }
        try dImage.withUnsafeBufferPointer { di in
            try dText.withUnsafeBufferPointer { dt in
                try runShards(shards.count) { k in
                    let row = first + shards[k].lowerBound
                    models[k].vision.backward(dEmbeddings: di.baseAddress! + row * j)
                    models[k].text.backward(dEmbeddings: dt.baseAddress! + row * j)
                }
            }
        }
        replicas?.reduceGradients(shards: shards.count)
        return result
    }

    /// Split a batch over the threads (see `accumulate`); off, every kernel is threaded instead.
    public var shardsAcrossThreads = true
    private var replicas: ShardReplicas<CLIPTrainingModel>?

    /// This model and `n - 1` replicas holding its current values (replicas made on first need).
    private func shardModels(_ n: Int) throws -> [CLIPTrainingModel] {
        guard n > 1 else { return [self] }
        if replicas == nil {
            let values = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) })
            let (v, t, j) = (vision.config, text.config, projectionDim)
            replicas = ShardReplicas(of: self, parameters: \.parameters) {
                // Built from this model's tensors; whatever a layer copies is refreshed by `syncValues`.
                try! CLIPTrainingModel(vision: v, text: t, projectionDim: j) { name, _ in values[name]! }
            }
        }
        replicas!.reserve(n)
        replicas!.syncValues(shards: n)
        return [self] + replicas!.replicas.prefix(n - 1)
    }

    /// OpenAI CLIP's clamp after each optimizer step: 0 ≤ logit_scale ≤ ln 100.
    public func clampLogitScale() {
        let p = logitScale.value.floats
        p[0] = min(max(p[0], 0), CLIPContrastive.maxLogitScale)
    }

    /// Adds N(0, std²) to every entry of the image tower's position embedding (class and patch
    /// rows), drawn from `seed`: the same seed gives the same noise.
    public func addVisionPositionNoise(std: Float, seed: UInt64) {
        var rng = SplitMix64(seed: seed ^ 0x706F_7369_7469_6F6E)   // "position": apart from the initialisation's stream
        let p = vision.positionEmbedding.value
        for i in 0..<p.count { p.floats[i] += std * gaussian(&rng) }
    }

    // MARK: - Construction

    /// A new model initialised as HF's `CLIPPreTrainedModel._init_weights` does (initializer
    /// factor 1, range 0.02): normal weights with per-kind standard deviations, zero biases,
    /// identity LayerNorms, logit_scale ln(1/0.07). The same seed gives the same model.
    /// `visionPositionStd` replaces HF's 0.02 for the image tower's position embedding: a larger
    /// one keeps each patch's place a sizeable part of its embedding (layer 0), next to its content.
    public static func random(vision v: CLIPVisionConfiguration, text t: CLIPTextConfiguration, projectionDim: Int,
                              seed: UInt64, visionPositionStd: Float? = nil) throws -> CLIPTrainingModel {
        var rng = SplitMix64(seed: seed)
        return try CLIPTrainingModel(vision: v, text: t, projectionDim: projectionDim) { name, shape in
            let n = shape.reduce(1, *)
            if name == "logit_scale" { return Tensor([CLIPContrastive.initialLogitScale], shape: []) }
            if name.hasSuffix(".bias") { return Tensor(zeros: shape) }
            if name.hasSuffix("norm.weight") || name.contains("layer_norm") || name.contains("layrnorm") {
                return Tensor([Float](repeating: 1, count: n), shape: shape)
            }
            var std = initStd(name, vision: v, text: t)
            if let visionPositionStd, name == "vision_model.embeddings.position_embedding.weight" { std = visionPositionStd }
            return Tensor((0..<n).map { _ in std * gaussian(&rng) }, shape: shape)
        }
    }

    /// HF's standard deviation for each kind of tensor.
    static func initStd(_ name: String, vision v: CLIPVisionConfiguration, text t: CLIPTextConfiguration) -> Float {
        let isText = name.hasPrefix("text")
        let d = Float(isText ? t.hiddenSize : v.hiddenSize)
        let layers = Float(isText ? t.layerCount : v.layerCount)
        let inProj = 1 / d.squareRoot() / (2 * layers).squareRoot()
        switch true {
        case name.hasSuffix("class_embedding"): return 1 / d.squareRoot()
        case name.contains("embedding"): return 0.02
        case name.contains("q_proj") || name.contains("k_proj") || name.contains("v_proj"): return inProj
        case name.contains("out_proj"): return 1 / d.squareRoot()
        case name.contains("fc1"): return 1 / (2 * d).squareRoot()
        case name.contains("fc2"): return inProj
        default: return 1 / d.squareRoot()   // the projections: embed_dim^-0.5
        }
    }

    /// Loads a `CLIPModel` checkpoint (config.json + safetensors, as transformers saves one);
    /// every tensor must be used, shapes checked.
    public convenience init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TrainingError.missingFile(configURL.path)
        }
        guard let textJSON = json["text_config"] as? [String: Any] else {
            throw TrainingError.invalidArgument("\(configURL.path): no text_config (not a CLIPModel config)")
        }
        let vision = try CLIPVisionConfiguration(json: json, file: configURL.path)
        let text = try CLIPTextConfiguration(json: textJSON, file: configURL.path)
        let projection = (json["projection_dim"] as? NSNumber)?.intValue ?? 512
        let loader = try WeightLoader(directory: directory)
        try self.init(vision: vision, text: text, projectionDim: projection) { name, shape in
            try loader.take(name, shape: shape).toF32()
        }
        loader.skip("vision_model.embeddings.position_ids")
        loader.skip("text_model.embeddings.position_ids")
        let unused = loader.unusedNames()
        guard unused.isEmpty else {
            throw TrainingError.invalidArgument("\(directory.path): tensors no part of a CLIPModel uses: \(unused.prefix(8).joined(separator: ", "))")
        }
    }
}

/// A standard normal draw (Box–Muller on two SplitMix64 uniforms).
func gaussian(_ rng: inout SplitMix64) -> Float {
    let u1 = max(rng.nextUnit(), 1e-300), u2 = rng.nextUnit()
    return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
}
