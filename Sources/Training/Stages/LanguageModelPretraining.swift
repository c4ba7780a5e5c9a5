import Checkpoint
import Foundation
import LLaVA
import Language
import Tensor
import Tokenizer

// Pretraining a LLaMA-family language model from scratch on plain text: the LLM half of the
// project's own default model. The same decoder graph as LLaVA's stage 2, with no images.

extension LlamaWeights {
    /// Fresh weights as transformers initialises `LlamaForCausalLM`: every matrix ~ N(0, std²)
    /// (std = `initializer_range`, 0.02), every norm weight 1.
    public static func initialized(config c: LlamaConfiguration, std: Float = 0.02, seed: UInt64) -> LlamaWeights {
        var rng = SplitMix64(seed: seed)
        func normal(_ shape: [Int]) -> Tensor {
            let t = Tensor(zeros: shape)
            let p = t.floats
            var i = 0
            while i < t.count {
                // Box–Muller: two independent normals from two uniforms.
                let u1 = max(rng.nextUnit(), 1e-300), u2 = rng.nextUnit()
                let r = (-2 * Foundation.log(u1)).squareRoot()
                p[i] = Float(r * Foundation.cos(2 * Double.pi * u2)) * std
                if i + 1 < t.count { p[i + 1] = Float(r * Foundation.sin(2 * Double.pi * u2)) * std }
                i += 2
            }
            return t
        }
        func ones(_ n: Int) -> Tensor { Tensor([Float](repeating: 1, count: n), shape: [n]) }
        let d = c.hiddenSize, f = c.intermediateSize, qd = c.headCount * c.headDim, kvd = c.kvHeadCount * c.headDim
        let layers = (0..<c.layerCount).map { _ in
            LlamaLayerWeights(attentionNorm: ones(d), wq: normal([qd, d]), wk: normal([kvd, d]), wv: normal([kvd, d]),
                              wo: normal([d, qd]), bq: nil, bk: nil, bv: nil, bo: nil, mlpNorm: ones(d),
                              gate: normal([f, d]), up: normal([f, d]), down: normal([d, f]), bGate: nil, bUp: nil, bDown: nil)
        }
        let embed = normal([c.vocabularySize, d])
        return LlamaWeights(embedTokens: embed, layers: layers, finalNorm: ones(d),
                            lmHead: c.tieWordEmbeddings ? embed : normal([c.vocabularySize, d]))
    }
}

/// Text documents as causal-LM samples: each document is BOS (per the tokenizer) + ids + EOS,
/// every position learned. With `pack`, documents are concatenated and cut into sequences of
/// `maxLength` (the usual pretraining layout: short documents would otherwise spend the
/// step on per-sequence overhead); without it, each document is one sample, truncated.
public func languageModelSamples(_ documents: [String], tokenizer: Tokenizer, maxLength: Int,
                                 pack: Bool = true) -> [TrainingSample] {
    let encoded = documents.map { text -> [Int] in
        var ids = tokenizer.encode(text)
        if let eos = tokenizer.eosTokenID { ids.append(eos) }
        return ids
    }
    var sequences: [[Int]] = []
    if pack {
        let stream = encoded.flatMap { $0 }
        var start = 0
        while start + 1 < stream.count {
            sequences.append(Array(stream[start..<min(stream.count, start + maxLength)]))
            start += maxLength
        }
    } else {
        sequences = encoded.map { Array($0.prefix(maxLength)) }
    }
    return sequences.enumerated().compactMap { i, ids in
        ids.count > 1 ? TrainingSample(id: "seq\(i)", inputIDs: ids, labels: ids, imagePath: nil) : nil
    }
}

/// The decoder-only training graph (no vision, no projector).
public func languageModelGraph(weights: LlamaWeights, config: LlamaConfiguration, seed: UInt64) -> LLaVATrainingModel {
    let decoder = TrainableDecoder(weights: weights, config: config, mode: .full, seed: seed)
    let none = Projector(kind: .identity, activation: .gelu, layers: [], inputWidth: config.hiddenSize, outputWidth: config.hiddenSize)
    return LLaVATrainingModel(decoder: decoder, projector: TrainableProjector(none, names: [], lrScale: 1),
                              imageTokenID: originalImagePlaceholder, featuresPerImage: 0)
}

extension ModelExport {
    /// A bare LLaMA directory (`LlamaForCausalLM`): config, tokenizer and `model.*` / `lm_head` weights,
    /// stored as `dtype`.
    public static func writeLlama(to directory: URL, decoder: TrainableDecoder, tokenizerDirectory: URL,
                                  dtype: DType = .f32) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = decoder.exportTensors().map { name, t -> (name: String, tensor: Tensor) in
            let renamed = name.hasPrefix("language_model.lm_head") ? "lm_head.weight"
                : name.replacingOccurrences(of: "language_model.model.", with: "model.")
            return (renamed, t)
        }
        try SafeTensorsWriter.write(tensors, storing: dtype, metadata: ["format": "pt"],
                                    to: directory.appendingPathComponent("model.safetensors"))
        var config = llavaHFConfig(text: decoder.config, vision: .init(), llava: .init(layout: .original, text: decoder.config,
                                   vision: nil, imageTokenID: -200, padsImagesToSquare: false), imageToken: 0,
                                   dtype: dtype)["text_config"] as! [String: Any]
        config["architectures"] = ["LlamaForCausalLM"]
        config["initializer_range"] = 0.02
        try writeJSON(config, to: directory.appendingPathComponent("config.json"))
        try TokenizerFiles(directory: tokenizerDirectory).write(to: directory)
    }
}
