import Checkpoint
import Foundation
import Tensor

// Shape legend: D hidden size, F MLP size, C channels, P patch side, T positions.

/// The CLIP tower of a llama.cpp `mmproj` GGUF (architecture `clip`).
///
/// llama.cpp's image-encoder converter renames the tower (`v.blk.N.attn_q`, `ln1`, …, with
/// `mlp.fc1` stored as `ffn_down` and `fc2` as `ffn_up`), and for a LLaVA projector drops the
/// last layer and the post-layernorm, which LLaVA never reads: its features are the last
/// hidden state of what remains (the full tower's layer -2).
///
/// ```swift
/// let mmproj = try GGUFFile(url: URL(fileURLWithPath: "mmproj-model-f16.gguf"))
/// let tower = try CLIPVisionModel(mmproj: mmproj, reader: GGUFTensorReader(file: mmproj))
/// ```
extension CLIPVisionConfiguration {
    public init(mmproj file: GGUFFile) throws {
        let m = GGUFMetadata(file)
        let arch = try m.string("general.architecture")
        guard arch == "clip", try m.optionalBool("clip.has_vision_encoder") ?? true else {
            throw GGUFError.invalidMetadata(file: file.url.path, key: "general.architecture",
                                            reason: "'\(arch)' is not a CLIP vision tower (an mmproj file has 'clip')")
        }
        self.init(hiddenSize: try m.int("clip.vision.embedding_length"),
                  intermediateSize: try m.int("clip.vision.feed_forward_length"),
                  layerCount: try m.int("clip.vision.block_count"),
                  headCount: try m.int("clip.vision.attention.head_count"),
                  imageSize: try m.int("clip.vision.image_size"), patchSize: try m.int("clip.vision.patch_size"),
                  layerNormEps: Float(try m.optionalDouble("clip.vision.attention.layer_norm_epsilon") ?? 1e-5),
                  activation: try m.optionalBool("clip.use_gelu") == true ? .gelu : .quickGELU)
        guard hiddenSize % headCount == 0, imageSize % patchSize == 0, patchSize > 0 else {
            throw GGUFError.invalidMetadata(file: file.url.path, key: "clip.vision.*",
                                            reason: "image \(imageSize) / patch \(patchSize) / width \(hiddenSize) / heads \(headCount) do not fit")
        }
    }
}

extension CLIPVisionModel {
    /// The tower's tensors (`v.*`) of an mmproj file; the projector's (`mm.*`) are left to the caller.
    public convenience init(mmproj file: GGUFFile, reader: GGUFTensorReader) throws {
        let c = try CLIPVisionConfiguration(mmproj: file)
        self.init(config: c, weights: try CLIPVisionWeights(mmproj: reader, config: c))
    }
}

extension CLIPVisionWeights {
    init(mmproj r: GGUFTensorReader, config c: CLIPVisionConfiguration) throws {
        let d = c.hiddenSize, f = c.intermediateSize, k = c.channelCount * c.patchSize * c.patchSize
        patchEmbedding = try r.matrix("v.patch_embd.weight", [d, c.channelCount, c.patchSize, c.patchSize]).reshaped([d, k])
        classEmbedding = try r.vector("v.class_embd", d)
        positionEmbedding = try r.matrix("v.position_embd.weight", [c.positionCount, d]).toF32()
        preNormWeight = try r.vector("v.pre_ln.weight", d)
        preNormBias = try r.vector("v.pre_ln.bias", d)
        layers = try (0..<c.layerCount).map { i in
            let l = "v.blk.\(i)."
            return CLIPLayerWeights(
                norm1Weight: try r.vector(l + "ln1.weight", d), norm1Bias: try r.vector(l + "ln1.bias", d),
                wq: try r.matrix(l + "attn_q.weight", [d, d]), wk: try r.matrix(l + "attn_k.weight", [d, d]),
                wv: try r.matrix(l + "attn_v.weight", [d, d]),
                bq: try r.vector(l + "attn_q.bias", d), bk: try r.vector(l + "attn_k.bias", d), bv: try r.vector(l + "attn_v.bias", d),
                wo: try r.matrix(l + "attn_out.weight", [d, d]), bo: try r.vector(l + "attn_out.bias", d),
                norm2Weight: try r.vector(l + "ln2.weight", d), norm2Bias: try r.vector(l + "ln2.bias", d),
                fc1: try r.matrix(l + "ffn_down.weight", [f, d]), bFc1: try r.vector(l + "ffn_down.bias", f),
                fc2: try r.matrix(l + "ffn_up.weight", [d, f]), bFc2: try r.vector(l + "ffn_up.bias", d))
        }
        // Dropped with the last layer by the LLaVA converter; LLaVA's features never pass through it.
        if r.file.info("v.post_ln.weight") != nil {
            postNormWeight = try r.vector("v.post_ln.weight", d)
            postNormBias = try r.vector("v.post_ln.bias", d)
        } else {
            postNormWeight = Tensor([Float](repeating: 1, count: d), shape: [d])
            postNormBias = Tensor(zeros: [d])
        }
    }
}

extension ImageProcessorConfiguration {
    /// CLIP's preprocessing at the mmproj's image size with its mean and std.
    public init(mmproj file: GGUFFile, imageSize: Int) throws {
        self = .clip336
        size = .shortestEdge(imageSize)
        cropHeight = imageSize
        cropWidth = imageSize
        let m = GGUFMetadata(file)
        for (key, path) in [("clip.vision.image_mean", \ImageProcessorConfiguration.imageMean),
                            ("clip.vision.image_std", \ImageProcessorConfiguration.imageStd)] {
            guard let values = try m.optionalArray(key) else { continue }
            let numbers = values.compactMap(\.double)
            guard numbers.count == 3 else {
                throw GGUFError.invalidMetadata(file: file.url.path, key: key, reason: "expected 3 numbers, found \(values.count) values")
            }
            self[keyPath: path] = numbers
        }
    }
}
