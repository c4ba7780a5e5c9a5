import Checkpoint
import Foundation
import Tensor
import Vision

// Writing a trained CLIP as transformers saves a `CLIPModel`: config.json (model_type "clip",
// text_config, vision_config, projection_dim), model.safetensors under HF's names,
// preprocessor_config.json (CLIPImageProcessor at the tower's size) and the tokenizer files.
// Our `CLIPVisionModel(directory:)` loads the result (skipping the text side), and so does
// `transformers.CLIPModel.from_pretrained`.

extension CLIPTrainingModel {
    /// Every tensor under its HF name, in `named_parameters` order (patch embedding 4-D,
    /// logit_scale 0-d), viewing the live parameters.
    public func exportTensors() -> [(name: String, tensor: Tensor)] {
        parameters.map { ($0.name, $0.value) }
    }

    /// The `CLIPConfig` JSON of this model.
    public func configJSON() -> [String: Any] {
        let v = vision.config
        let visionJSON: [String: Any] = [
            "model_type": "clip_vision_model", "hidden_size": v.hiddenSize, "intermediate_size": v.intermediateSize,
            "num_hidden_layers": v.layerCount, "num_attention_heads": v.headCount, "image_size": v.imageSize,
            "patch_size": v.patchSize, "num_channels": v.channelCount, "hidden_act": v.activation.rawValue,
            "layer_norm_eps": Double(v.layerNormEps), "projection_dim": projectionDim,
            "initializer_range": 0.02,
        ]
        return ["architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": projectionDim,
                "logit_scale_init_value": Double(CLIPContrastive.initialLogitScale),
                "dtype": "float32", "text_config": text.config.json(projectionDim: projectionDim),
                "vision_config": visionJSON]
    }

    /// The CLIP processor at the tower's image size (resize shortest side, centre crop, CLIP mean/std).
    public var imageProcessorConfiguration: ImageProcessorConfiguration { clipProcessor(size: vision.config.imageSize) }

    /// Writes the HF `CLIPModel` directory; `tokenizerDirectory`'s tokenizer.json (and
    /// tokenizer_config.json) are copied beside it.
    ///
    /// ```swift
    /// try model.write(to: URL(fileURLWithPath: "out/clip"), tokenizerDirectory: URL(fileURLWithPath: "tok"))
    /// let tower = try CLIPVisionModel(directory: URL(fileURLWithPath: "out/clip"))
    /// ```
    public func write(to directory: URL, tokenizerDirectory: URL?) throws {
        try write(to: directory, tokenizer: try tokenizerDirectory.map { try TokenizerFiles(directory: $0) })
    }

    func write(to directory: URL, tokenizer: TokenizerFiles?) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensorsWriter.write(exportTensors(), metadata: ["format": "pt"],
                                    to: directory.appendingPathComponent("model.safetensors"))
        try ModelExport.writeJSON(configJSON(), to: directory.appendingPathComponent("config.json"))
        try ModelExport.writeJSON(ModelExport.preprocessorJSON(imageProcessorConfiguration),
                                  to: directory.appendingPathComponent("preprocessor_config.json"))
        try tokenizer?.write(to: directory)
    }
}
