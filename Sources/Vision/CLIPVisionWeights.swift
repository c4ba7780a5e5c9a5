import Checkpoint
import Foundation
import Tensor

// Shape legend: D hidden size, F MLP size, C channels, P patch side in pixels,
// N patches per image, T = N + 1 token rows (class token first).

/// Weights of one CLIP encoder layer. Matrices stay in the checkpoint's dtype
/// (f32, f16 or bf16, memory-mapped); norms and biases are widened to f32 at load.
public struct CLIPLayerWeights: @unchecked Sendable {
    public var norm1Weight, norm1Bias: Tensor  // layer_norm1: (D), (D) f32
    public var wq, wk, wv: Tensor              // self_attn.{q,k,v}_proj: (D, D)
    public var bq, bk, bv: Tensor              // (D) f32 each
    public var wo: Tensor                      // self_attn.out_proj: (D, D)
    public var bo: Tensor                      // (D) f32
    public var norm2Weight, norm2Bias: Tensor  // layer_norm2: (D), (D) f32
    public var fc1: Tensor                     // mlp.fc1: (F, D)
    public var bFc1: Tensor                    // (F) f32
    public var fc2: Tensor                     // mlp.fc2: (D, F)
    public var bFc2: Tensor                    // (D) f32
}

/// All weights of a CLIP ViT vision tower (HF `CLIPVisionModel`).
public struct CLIPVisionWeights: @unchecked Sendable {
    /// The patch convolution's kernel [D, C, P, P] viewed as a matrix, so that
    /// the convolution is one GEMM over im2col rows ordered (c, y, x).
    public var patchEmbedding: Tensor          // (D, C*P*P)
    public var classEmbedding: Tensor          // (D) f32
    public var positionEmbedding: Tensor       // (T, D) f32
    public var preNormWeight, preNormBias: Tensor   // pre_layrnorm (sic): (D), (D) f32
    public var layers: [CLIPLayerWeights]
    /// Applied only to the pooled (class-token) output; LLaVA never uses it.
    public var postNormWeight, postNormBias: Tensor // post_layernorm: (D), (D) f32
}

// MARK: - Checkpoint layouts

/// Where checkpoints of the wild keep the tower: the text before `embeddings.class_embedding`.
public enum CLIPWeightPrefix {
    /// Known prefixes, most specific first.
    public static let known = [
        "vision_model.",                                  // CLIPModel dir (any version); CLIPVisionModel saved by transformers v4
        "vision_tower.vision_model.",                     // llava-hf saved by transformers v4 (e.g. llava-hf/llava-1.5-7b-hf)
        "model.vision_tower.vision_model.",               // llava-hf saved by early transformers v5
        "model.vision_tower.vision_tower.vision_model.",  // original LLaVA with the CLIP tower saved inside
        "model.vision_tower.",                            // transformers 5.23's in-memory names (a raw state_dict dump)
        "vision_tower.",                                  // llava-hf saved by transformers 5.23 (CLIPVisionModel has no vision_model level)
        "",                                               // CLIPVisionModel saved by transformers 5.23
    ]

    /// The probe: every layout has its class embedding under this name.
    static let probe = "embeddings.class_embedding"

    /// Tensors of a CLIPModel directory that are not the vision tower: the text tower and
    /// both projections into the joint space (LLaVA uses the vision hidden states only).
    public static func isCLIPTextSide(_ name: String) -> Bool {
        ["text_model.", "text_projection.", "visual_projection."].contains { name.hasPrefix($0) } || name == "logit_scale"
    }
}

extension CLIPVisionWeights {
    /// Takes the tower's tensors named `prefix + …` from `loader` (shape-checked). Other
    /// tensors are left for the caller to take or reject.
    public init(loader: WeightLoader, config c: CLIPVisionConfiguration, prefix p: String) throws {
        let d = c.hiddenSize, f = c.intermediateSize, k = c.channelCount * c.patchSize * c.patchSize
        func w(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t = try loader.take(p + name, shape: shape)
            guard t.dtype.isFloat else { throw CLIPVisionError.unsupportedWeightType(name: p + name, dtype: t.dtype.rawValue) }
            return t
        }
        func vector(_ name: String, _ n: Int) throws -> Tensor { try w(name, [n]).toF32() }

        patchEmbedding = try w("embeddings.patch_embedding.weight", [d, c.channelCount, c.patchSize, c.patchSize])
            .reshaped([d, k])
        classEmbedding = try vector("embeddings.class_embedding", d)
        positionEmbedding = try w("embeddings.position_embedding.weight", [c.positionCount, d]).toF32()
        preNormWeight = try vector("pre_layrnorm.weight", d)
        preNormBias = try vector("pre_layrnorm.bias", d)
        layers = try (0..<c.layerCount).map { i in
            let l = "encoder.layers.\(i)."
            return CLIPLayerWeights(
                norm1Weight: try vector(l + "layer_norm1.weight", d), norm1Bias: try vector(l + "layer_norm1.bias", d),
                wq: try w(l + "self_attn.q_proj.weight", [d, d]), wk: try w(l + "self_attn.k_proj.weight", [d, d]),
                wv: try w(l + "self_attn.v_proj.weight", [d, d]),
                bq: try vector(l + "self_attn.q_proj.bias", d), bk: try vector(l + "self_attn.k_proj.bias", d),
                bv: try vector(l + "self_attn.v_proj.bias", d),
                wo: try w(l + "self_attn.out_proj.weight", [d, d]), bo: try vector(l + "self_attn.out_proj.bias", d),
                norm2Weight: try vector(l + "layer_norm2.weight", d), norm2Bias: try vector(l + "layer_norm2.bias", d),
                fc1: try w(l + "mlp.fc1.weight", [f, d]), bFc1: try vector(l + "mlp.fc1.bias", f),
                fc2: try w(l + "mlp.fc2.weight", [d, f]), bFc2: try vector(l + "mlp.fc2.bias", d))
        }
        postNormWeight = try vector("post_layernorm.weight", d)
        postNormBias = try vector("post_layernorm.bias", d)
        // Older exports persist the buffer of position ids 0..<T; they are implied, never loaded.
        loader.skip(p + "embeddings.position_ids")
    }
}
