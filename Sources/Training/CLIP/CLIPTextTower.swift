import Foundation
import Tensor

// HF `CLIPTextModel` + `text_projection` in training: token embedding + learned positions,
// L encoder layers with CAUSAL attention, final_layer_norm, the hidden state at the pooled
// (end-of-text) position, projection to the joint space.
//
// Shape legend: B captions, T rows per caption (the batch's longest pooled position + 1),
// R = B·T, V vocabulary, D hidden, J joint (projection) dimension.

/// Hyper-parameters of a CLIP text tower (HF `CLIPTextConfig`, `text_config` in config.json).
///
/// ```swift
/// let text = CLIPTextConfiguration(vocabularySize: 4096, hiddenSize: 128, layerCount: 4, headCount: 4,
///                                  maxPositions: 32, bosTokenID: 1, eosTokenID: 4096, padTokenID: 0)
/// ```
public struct CLIPTextConfiguration: Sendable, Equatable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    /// `max_position_embeddings`: captions are truncated to this many tokens.
    public var maxPositions: Int
    public var layerNormEps: Float
    public var bosTokenID: Int?
    /// The end-of-text id. Pooling follows transformers for it: see ``pooledPosition(_:)``.
    public var eosTokenID: Int
    public var padTokenID: Int

    public init(vocabularySize: Int, hiddenSize: Int, intermediateSize: Int? = nil, layerCount: Int, headCount: Int,
                maxPositions: Int, layerNormEps: Float = 1e-5, bosTokenID: Int?, eosTokenID: Int, padTokenID: Int) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize ?? 4 * hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.maxPositions = maxPositions
        self.layerNormEps = layerNormEps
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
    }

    /// Reads `text_config` of a CLIP config.json; a bad value throws with its key.
    public init(json t: [String: Any], file: String) throws {
        func int(_ key: String) throws -> Int {
            guard let n = t[key] as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
                throw TrainingError.invalidArgument("\(file): text_config.\(key) must be an integer, found \(t[key] ?? "nothing")")
            }
            return n.intValue
        }
        let act = t["hidden_act"] as? String ?? "quick_gelu"
        guard act == "quick_gelu" else {
            throw TrainingError.invalidArgument("\(file): text_config.hidden_act '\(act)' is not supported (quick_gelu)")
        }
        self.init(vocabularySize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
                  intermediateSize: try int("intermediate_size"), layerCount: try int("num_hidden_layers"),
                  headCount: try int("num_attention_heads"), maxPositions: try int("max_position_embeddings"),
                  layerNormEps: Float((t["layer_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-5),
                  bosTokenID: (t["bos_token_id"] as? NSNumber)?.intValue, eosTokenID: try int("eos_token_id"),
                  padTokenID: (t["pad_token_id"] as? NSNumber)?.intValue ?? 0)
        guard headCount > 0, hiddenSize % headCount == 0 else {
            throw TrainingError.invalidArgument("\(file): text_config.num_attention_heads \(headCount) must divide hidden_size \(hiddenSize)")
        }
    }

    /// `text_config` as transformers writes it.
    public func json(projectionDim: Int) -> [String: Any] {
        var j: [String: Any] = [
            "model_type": "clip_text_model", "vocab_size": vocabularySize, "hidden_size": hiddenSize,
            "intermediate_size": intermediateSize, "num_hidden_layers": layerCount, "num_attention_heads": headCount,
            "max_position_embeddings": maxPositions, "hidden_act": "quick_gelu", "layer_norm_eps": Double(layerNormEps),
            "eos_token_id": eosTokenID, "pad_token_id": padTokenID, "projection_dim": projectionDim,
            "initializer_range": 0.02,
        ]
        if let bosTokenID { j["bos_token_id"] = bosTokenID }
        return j
    }

    /// The row whose final hidden state is the caption's pooled output, exactly as transformers 5.x
    /// picks it in `CLIPTextTransformer.forward`: with the legacy `eos_token_id == 2` the position of
    /// the largest id (first on ties, `argmax`); otherwise the first position holding `eos_token_id`
    /// (0 when there is none, as `argmax` of all zeros gives).
    public func pooledPosition(_ ids: [Int]) -> Int {
        if eosTokenID == 2 {
            var best = 0
            for (i, id) in ids.enumerated() where id > ids[best] { best = i }
            return best
        }
        return ids.firstIndex(of: eosTokenID) ?? 0
    }
}

/// The text tower of a CLIP model in training.
public final class CLIPTextTowerTraining {
    public let config: CLIPTextConfiguration
    public let projectionDim: Int
    let tokenEmbedding: Parameter      // (V, D)
    let positionEmbedding: Parameter   // (maxPositions, D)
    let encoder: CLIPTrainableEncoder
    let finalNorm: CLIPLayerNorm
    let projection: TrainableLinear    // text_projection: (J, D), no bias

    // Saved by the last forward.
    private var ids: [Int] = []        // (B·T) the truncated captions
    private var positions: [Int] = []  // (B) pooled row per caption
    private var tokens = 0
    let pooled = ScratchBuffer()       // (B, D) encoder output at the pooled rows
    let pooledNorm = ScratchBuffer()   // (B, D) final_layer_norm of those
    let projected = ScratchBuffer()    // (B, J)
    let projectionSaved = LinearSaved()

    /// Tensors named as in a `CLIPModel` checkpoint (`text_model.…`, `text_projection.weight`).
    public init(config c: CLIPTextConfiguration, projectionDim: Int, source: CLIPTensorSource) throws {
        config = c
        self.projectionDim = projectionDim
        let d = c.hiddenSize, p = "text_model."
        tokenEmbedding = Parameter(name: p + "embeddings.token_embedding.weight",
                                   value: try source(p + "embeddings.token_embedding.weight", [c.vocabularySize, d]),
                                   decays: true)
        positionEmbedding = Parameter(name: p + "embeddings.position_embedding.weight",
                                      value: try source(p + "embeddings.position_embedding.weight", [c.maxPositions, d]),
                                      decays: true)
        encoder = try CLIPTrainableEncoder(prefix: p, count: c.layerCount, hidden: d, intermediate: c.intermediateSize,
                                           heads: c.headCount, eps: c.layerNormEps, causal: true, source: source)
        finalNorm = try CLIPLayerNorm(prefix: p + "final_layer_norm", dim: d, eps: c.layerNormEps, source: source)
        projection = try clipLinear("text_projection", out: projectionDim, in: d, bias: false, source: source)
    }

    /// In HF's `named_parameters` order.
    public var parameters: [Parameter] {
        [tokenEmbedding, positionEmbedding] + encoder.parameters + finalNorm.parameters + projection.parameters
    }

    /// Text embeddings (B, J), unnormalised, of B captions of ids (each at most `maxPositions` long,
    /// padding allowed after the end-of-text token). Pointer valid until the next forward.
    ///
    /// Causal attention means no row sees a later one, so rows after a caption's pooled position
    /// cannot change its output: every caption is cut to the batch's longest pooled position + 1.
    public func forward(captions: [[Int]]) throws -> UnsafePointer<Float> {
        let c = config, d = c.hiddenSize, b = captions.count
        positions = captions.map(c.pooledPosition)
        let t = (positions.max() ?? 0) + 1
        tokens = t
        ids = []
        for (i, caption) in captions.enumerated() {
            guard caption.count <= c.maxPositions else {
                throw TrainingError.invalidArgument("caption \(i) has \(caption.count) tokens; max_position_embeddings is \(c.maxPositions)")
            }
            if let bad = caption.first(where: { $0 < 0 || $0 >= c.vocabularySize }) {
                throw TrainingError.invalidArgument("caption \(i): token id \(bad) is outside the vocabulary 0..<\(c.vocabularySize)")
            }
            ids += caption.prefix(t) + Array(repeating: c.padTokenID, count: max(0, t - caption.count))
        }
        var x = [Float](repeating: 0, count: b * t * d)
        embeddingForward(&x, table: tokenEmbedding.value, tokens: ids)
        x.withUnsafeMutableBufferPointer { xs in
            for i in 0..<b { addInPlace(xs.baseAddress! + i * t * d, positionEmbedding.value.floats, count: t * d) }
        }
        let h = encoder.forward(x, sequences: b, tokens: t, hidden: d)
        return projectPooledRows(of: h, sequences: b, hidden: d, row: { i in i * t + positions[i] },
                                 norm: finalNorm, projection: projection, projectionDim: projectionDim,
                                 saved: projectionSaved, pooled: pooled, pooledNorm: pooledNorm, projected: projected)
    }

    /// Backward from dEmbeddings (B, J) of the last forward; parameter gradients accumulate.
    public func backward(dEmbeddings: UnsafePointer<Float>) {
        let d = config.hiddenSize, b = positions.count, t = tokens
        var dNorm = [Float](repeating: 0, count: b * d)
        projection.backward(dx: &dNorm, dy: dEmbeddings, x: pooledNorm.pointer, rows: b, saved: projectionSaved)
        var dRows = [Float](repeating: 0, count: b * d)
        finalNorm.backward(dx: &dRows, dy: dNorm, x: pooled.pointer, rows: b)
        var dH = [Float](repeating: 0, count: b * t * d)
        for i in 0..<b { for j in 0..<d { dH[(i * t + positions[i]) * d + j] = dRows[i * d + j] } }
        let dX = encoder.backward(dH, sequences: b, tokens: t, hidden: d)
        withGradient(tokenEmbedding) { embeddingBackward(dTable: $0!, dOut: dX, tokens: ids, dim: d) }
        positionEmbedding.grad.withUnsafeMutableBufferPointer { dPos in
            for i in 0..<b { for j in 0..<(t * d) { dPos[j] += dX[i * t * d + j] } }
        }
    }
}
