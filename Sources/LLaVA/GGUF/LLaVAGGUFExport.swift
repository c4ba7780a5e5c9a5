import Checkpoint
import Foundation
import Language
import Tensor
import Vision

/// Writing a LLaVA model as llama.cpp's two files: the language model GGUF and the `mmproj`.
extension LLaVAModel {
    /// The CLIP tower and projector as llama.cpp's LLaVA image-encoder converter lays them out.
    /// A model reading layer -2 (LLaVA-1.5) loses its last layer and post-layernorm, as there;
    /// any other layer keeps the whole tower and names the layer in `clip.vision.feature_layer`.
    public func writeMMProjGGUF(to url: URL, type: GGMLType) throws {
        let c = vision.config, w = vision.weights
        let truncated = configuration.visionFeatureLayer == -2 && c.layerCount > 1
        guard configuration.featureSelection == .default else {
            throw LLaVAError.invalidConfig(file: url.path, key: "vision_feature_select_strategy",
                                           reason: "mmproj files hold patch features only ('default'), not '\(configuration.featureSelection.rawValue)'")
        }
        var writer = GGUFWriter()
        writer.add("general.architecture", .string("clip"))
        writer.add("clip.has_text_encoder", .bool(false))
        writer.add("clip.has_vision_encoder", .bool(true))
        writer.add("clip.has_llava_projector", .bool(true))
        writer.add("clip.projector_type", .string("mlp"))
        for (key, value) in [("image_size", c.imageSize), ("patch_size", c.patchSize), ("embedding_length", c.hiddenSize),
                             ("feed_forward_length", c.intermediateSize), ("projection_dim", c.hiddenSize),
                             ("attention.head_count", c.headCount), ("block_count", truncated ? c.layerCount - 1 : c.layerCount)] {
            writer.add("clip.vision.\(key)", .unsigned(UInt64(value)))
        }
        writer.add("clip.vision.attention.layer_norm_epsilon", .float(Double(c.layerNormEps)))
        writer.add("clip.vision.image_mean", .array(imageProcessor.configuration.imageMean.map { .float($0) }))
        writer.add("clip.vision.image_std", .array(imageProcessor.configuration.imageStd.map { .float($0) }))
        writer.add("clip.use_gelu", .bool(c.activation == .gelu))
        if !truncated { writer.add("clip.vision.feature_layer", .array([.signed(Int64(configuration.visionFeatureLayer))])) }
        // Not read by llama.cpp; they let `llava` run the pair as the source model ran.
        writer.add("llava.image_aspect_ratio", .string(configuration.padsImagesToSquare ? "pad" : "square"))
        if let template = configuration.conversationTemplate { writer.add("llava.conversation_template", .string(template)) }
        func matrix(_ name: String, _ t: Tensor) { writer.add(tensor: name, t, as: LlamaModel.storedType(t, type)) }
        func vector(_ name: String, _ t: Tensor) { writer.add(tensor: name, t, as: .f32) }
        writer.add(tensor: "v.patch_embd.weight", w.patchEmbedding.reshaped([c.hiddenSize, c.channelCount, c.patchSize, c.patchSize]),
                   as: type == .f32 ? .f32 : .f16)
        vector("v.class_embd", w.classEmbedding)
        writer.add(tensor: "v.position_embd.weight", w.positionEmbedding, as: type == .f32 ? .f32 : .f16)
        vector("v.pre_ln.weight", w.preNormWeight)
        vector("v.pre_ln.bias", w.preNormBias)
        for (i, l) in w.layers.enumerated() where !truncated || i < c.layerCount - 1 {
            let b = "v.blk.\(i)."
            vector(b + "ln1.weight", l.norm1Weight); vector(b + "ln1.bias", l.norm1Bias)
            matrix(b + "attn_q.weight", l.wq); vector(b + "attn_q.bias", l.bq)
            matrix(b + "attn_k.weight", l.wk); vector(b + "attn_k.bias", l.bk)
            matrix(b + "attn_v.weight", l.wv); vector(b + "attn_v.bias", l.bv)
            matrix(b + "attn_out.weight", l.wo); vector(b + "attn_out.bias", l.bo)
            vector(b + "ln2.weight", l.norm2Weight); vector(b + "ln2.bias", l.norm2Bias)
            matrix(b + "ffn_down.weight", l.fc1); vector(b + "ffn_down.bias", l.bFc1)
            matrix(b + "ffn_up.weight", l.fc2); vector(b + "ffn_up.bias", l.bFc2)
        }
        if !truncated { vector("v.post_ln.weight", w.postNormWeight); vector("v.post_ln.bias", w.postNormBias) }
        for (k, layer) in projector.layers.enumerated() {
            writer.add(tensor: "mm.\(k * 2).weight", layer.weight, as: type == .f32 ? .f32 : .f16)
            if let bias = layer.bias { vector("mm.\(k * 2).bias", bias) }
        }
        try writer.write(to: url)
    }
}
