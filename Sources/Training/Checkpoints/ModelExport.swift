import Checkpoint
import Foundation
import LLaVA
import Language
import Tensor
import Vision

// Writing trained models: a complete llava-hf directory that transformers loads as it is,
// the stage-1 projector alone, and an original-layout directory.

extension TrainableDecoder {
    /// The decoder's tensors under llava-hf's hub names, LoRA folded in (W + (α/r)·B·A).
    public func exportTensors() -> [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = [("language_model.model.embed_tokens.weight", embedTokens)]
        for (i, b) in blocks.enumerated() {
            let p = "language_model.model.layers.\(i)."
            out.append((p + "input_layernorm.weight", b.attentionNorm))
            out.append((p + "post_attention_layernorm.weight", b.mlpNorm))
            for l in b.linears {
                out.append((l.name + ".weight", l.mergedWeight()))
                if let bias = l.bias { out.append((l.name + ".bias", bias)) }
            }
        }
        out.append(("language_model.model.norm.weight", finalNorm))
        out.append(("language_model.lm_head.weight", lmHead.weight))
        return out
    }
}

extension TrainableLinear {
    /// The weight with its adapter folded in, or the weight itself without one.
    func mergedWeight() -> Tensor {
        guard let lora else { return weight }
        let n = outFeatures, k = inFeatures, r = lora.rank
        let merged = weight.toF32()
        let a = lora.a.value.floats, b = lora.b.value.floats, w = merged.floats
        parallelFor(n) { rows in
            for i in rows {
                for j in 0..<r {
                    let s = lora.scale * b[i * r + j]
                    if s == 0 { continue }
                    for c in 0..<k { w[i * k + c] += s * a[j * k + c] }
                }
            }
        }
        return merged
    }
}

extension TrainableProjector {
    /// The projector's tensors under `names[i] + ".weight"/".bias"`.
    func exportTensors(names: [String]) -> [(name: String, tensor: Tensor)] {
        zip(layers, names).flatMap { layer, name in
            [(name + ".weight", layer.weight)] + (layer.bias.map { [(name + ".bias", $0)] } ?? [])
        }
    }
}

/// The CLIP tower's tensors in HF's layout under `prefix` (patch embedding back to a 4-D conv weight).
public func clipTensors(_ w: CLIPVisionWeights, config c: CLIPVisionConfiguration, prefix p: String) -> [(name: String, tensor: Tensor)] {
    var out: [(String, Tensor)] = [
        (p + "embeddings.class_embedding", w.classEmbedding),
        (p + "embeddings.patch_embedding.weight", w.patchEmbedding.reshaped([c.hiddenSize, c.channelCount, c.patchSize, c.patchSize])),
        (p + "embeddings.position_embedding.weight", w.positionEmbedding),
        (p + "pre_layrnorm.weight", w.preNormWeight), (p + "pre_layrnorm.bias", w.preNormBias),
    ]
    for (i, l) in w.layers.enumerated() {
        let q = "\(p)encoder.layers.\(i)."
        out += [(q + "layer_norm1.weight", l.norm1Weight), (q + "layer_norm1.bias", l.norm1Bias),
                (q + "self_attn.q_proj.weight", l.wq), (q + "self_attn.q_proj.bias", l.bq),
                (q + "self_attn.k_proj.weight", l.wk), (q + "self_attn.k_proj.bias", l.bk),
                (q + "self_attn.v_proj.weight", l.wv), (q + "self_attn.v_proj.bias", l.bv),
                (q + "self_attn.out_proj.weight", l.wo), (q + "self_attn.out_proj.bias", l.bo),
                (q + "layer_norm2.weight", l.norm2Weight), (q + "layer_norm2.bias", l.norm2Bias),
                (q + "mlp.fc1.weight", l.fc1), (q + "mlp.fc1.bias", l.bFc1),
                (q + "mlp.fc2.weight", l.fc2), (q + "mlp.fc2.bias", l.bFc2)]
    }
    out += [(p + "post_layernorm.weight", w.postNormWeight), (p + "post_layernorm.bias", w.postNormBias)]
    return out
}

/// Writes trained models to disk; every file atomically.
public enum ModelExport {
    /// The stage-1 output: the projector alone, under the reference's names
    /// (`model.mm_projector.0.weight`, …), as `mm_projector.safetensors`.
    public static func writeProjector(_ projector: TrainableProjector, to url: URL) throws {
        let names = referenceProjectorNames(projector.kind)
        try SafeTensorsWriter.write(projector.exportTensors(names: names).map { ($0.name, $0.tensor.toF32()) },
                                    metadata: ["format": "pt", "mm_projector_type": projector.kind.description], to: url)
    }

    /// The reference's projector names: `model.mm_projector` (linear), or `model.mm_projector.{0,2,…}`
    /// (an `nn.Sequential` whose odd indices are the GELUs).
    static func referenceProjectorNames(_ kind: ProjectorKind) -> [String] {
        switch kind {
        case .linear: return ["model.mm_projector"]
        case .mlp(let n): return (0..<n).map { "model.mm_projector.\($0 * 2)" }
        case .identity: return []
        }
    }

    /// A complete llava-hf directory: config, tokenizer (with `<image>` added if it lacks one),
    /// preprocessor config and safetensors that `LlavaForConditionalGeneration` loads as they are.
    /// Weights are stored as `dtype` (f32, f16 or bf16), each converted as it is written.
    public static func writeLLaVAHF(to directory: URL, decoder: TrainableDecoder, projector: TrainableProjector,
                                    vision: CLIPVisionModel, llava: LLaVAConfiguration, tokenizerDirectory: URL,
                                    imageProcessor: ImageProcessorConfiguration, dtype: DType = .f32) throws {
        guard case .mlp(2) = projector.kind else {
            throw TrainingError.invalidArgument("llava-hf checkpoints hold a 2-layer projector (mlp2x_gelu); this one is \(projector.kind): use the original layout")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tokenizer = try TokenizerFiles(directory: tokenizerDirectory)
        let imageToken = try tokenizer.ensureToken("<image>")
        var tensors = decoder.exportTensors()
        let vocab = max(decoder.config.vocabularySize, imageToken + 1)
        tensors = tensors.map { name, t in
            name.hasSuffix("embed_tokens.weight") || name.hasSuffix("lm_head.weight") ? (name, grownRows(t, to: vocab)) : (name, t)
        }
        tensors += projector.exportTensors(names: ["multi_modal_projector.linear_1", "multi_modal_projector.linear_2"])
        tensors += clipTensors(vision.weights, config: vision.config, prefix: "vision_tower.vision_model.")
        try SafeTensorsWriter.write(tensors, storing: dtype, metadata: ["format": "pt"],
                                    to: directory.appendingPathComponent("model.safetensors"))
        var text = decoder.config
        text.vocabularySize = vocab
        let config = llavaHFConfig(text: text, vision: vision.config, llava: llava, imageToken: imageToken, dtype: dtype)
        try writeJSON(config, to: directory.appendingPathComponent("config.json"))
        try writeJSON(preprocessorJSON(imageProcessor), to: directory.appendingPathComponent("preprocessor_config.json"))
        try tokenizer.write(to: directory)
    }

    /// Appends rows to an embedding-like (V, D) matrix, each the mean of the existing rows
    /// (new tokens start at the average embedding, as llava-hf's conversion does).
    static func grownRows(_ t: Tensor, to rows: Int) -> Tensor {
        let v = t.shape[0], d = t.shape[1]
        guard rows > v else { return t }
        let src = t.toF32(), out = Tensor(zeros: [rows, d])
        out.floats.update(from: src.floats, count: v * d)
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<v { for c in 0..<d { mean[c] += Double(src.floats[r * d + c]) } }
        for r in v..<rows { for c in 0..<d { out.floats[r * d + c] = Float(mean[c] / Double(v)) } }
        return out
    }

    static func llavaHFConfig(text c: LlamaConfiguration, vision v: CLIPVisionConfiguration, llava: LLaVAConfiguration,
                              imageToken: Int, dtype: DType = .f32) -> [String: Any] {
        let torchDType = torchName(dtype)
        let textConfig: [String: Any] = [
            "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": c.vocabularySize,
            "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize, "num_hidden_layers": c.layerCount,
            "num_attention_heads": c.headCount, "num_key_value_heads": c.kvHeadCount, "head_dim": c.headDim,
            "rms_norm_eps": Double(c.rmsNormEps), "rope_theta": c.ropeTheta,
            "rope_scaling": c.ropeLinearFactor == 1 ? NSNull() as Any : ["type": "linear", "factor": c.ropeLinearFactor] as Any,
            "max_position_embeddings": c.maxPositionEmbeddings, "tie_word_embeddings": c.tieWordEmbeddings,
            "attention_bias": c.attentionBias, "mlp_bias": c.mlpBias, "hidden_act": "silu",
            "bos_token_id": c.bosTokenID as Any, "eos_token_id": c.eosTokenIDs.count == 1 ? c.eosTokenIDs[0] as Any : c.eosTokenIDs,
            "pad_token_id": c.padTokenID as Any, "torch_dtype": torchDType,
        ]
        let visionConfig: [String: Any] = [
            "model_type": "clip_vision_model", "hidden_size": v.hiddenSize, "intermediate_size": v.intermediateSize,
            "num_hidden_layers": v.layerCount, "num_attention_heads": v.headCount, "image_size": v.imageSize,
            "patch_size": v.patchSize, "num_channels": v.channelCount, "layer_norm_eps": Double(v.layerNormEps),
            "hidden_act": v.activation.rawValue, "projection_dim": 768,
        ]
        let patches = v.patchesPerSide * v.patchesPerSide
        // transformers (5.x) requests the tower's hidden states only when vision_feature_layer is
        // truthy, so layer 0 is written as its negative spelling, which names the same state.
        let featureLayer = llava.visionFeatureLayer == 0 ? -(v.layerCount + 1) : llava.visionFeatureLayer
        return [
            "architectures": ["LlavaForConditionalGeneration"], "model_type": "llava", "image_token_index": imageToken,
            "projector_hidden_act": llava.projectorActivation.rawValue, "vision_feature_layer": featureLayer,
            "vision_feature_select_strategy": llava.featureSelection.rawValue,
            "image_seq_length": llava.featureSelection == .full ? patches + 1 : patches,
            "multimodal_projector_bias": llava.projectorBias, "tie_word_embeddings": c.tieWordEmbeddings,
            "text_config": textConfig, "vision_config": visionConfig, "torch_dtype": torchDType,
            // Not read by transformers; `llava` uses them to run the model as it was trained.
            "image_aspect_ratio": llava.padsImagesToSquare ? "pad" : "square",
            "conversation_template": llava.conversationTemplate ?? "vicuna_v1",
        ]
    }

    /// PyTorch's name of a float storage type (`torch_dtype`).
    public static func torchName(_ dtype: DType) -> String {
        switch dtype {
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        default: return "float32"
        }
    }

    static func preprocessorJSON(_ p: ImageProcessorConfiguration) -> [String: Any] {
        var size: [String: Any]
        switch p.size {
        case .shortestEdge(let n): size = ["shortest_edge": n]
        case .exact(let h, let w): size = ["height": h, "width": w]
        }
        return ["image_processor_type": "CLIPImageProcessor", "do_resize": p.doResize, "size": size,
                "resample": p.resample.rawValue, "do_center_crop": p.doCenterCrop,
                "crop_size": ["height": p.cropHeight, "width": p.cropWidth], "do_rescale": p.doRescale,
                "rescale_factor": p.rescaleFactor, "do_normalize": p.doNormalize, "image_mean": p.imageMean,
                "image_std": p.imageStd, "do_convert_rgb": p.doConvertRGB]
    }

    static func writeJSON(_ object: [String: Any], to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data + Data("\n".utf8), to: url)
    }
}
