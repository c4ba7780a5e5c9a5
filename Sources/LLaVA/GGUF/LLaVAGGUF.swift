import Checkpoint
import Foundation
import Language
import Logging
import Tensor
import Tokenizer
import Vision

extension LLaVAModel {
    /// A LLaVA-1.5 model from llama.cpp's two files: the language model GGUF (weights and
    /// tokenizer) and the `mmproj` GGUF (CLIP tower and `mm.*` projector).
    ///
    /// It runs as an original-layout checkpoint: one image placeholder takes the image's
    /// features, images padded to a square with the mean colour, the template picked from the
    /// file's name as the reference CLI does.
    ///
    /// ```swift
    /// let model = try LLaVAModel(gguf: URL(fileURLWithPath: "ggml-model-q4_k.gguf"),
    ///                            mmproj: URL(fileURLWithPath: "mmproj-model-f16.gguf"))
    /// ```
    public convenience init(gguf: URL, mmproj: URL, logger: Logger? = nil) throws {
        let llm = try GGUFFile(url: gguf), proj = try GGUFFile(url: mmproj)
        let language = try LlamaModel(gguf: llm)
        let reader = GGUFTensorReader(file: proj)
        let vision = try CLIPVisionModel(mmproj: proj, reader: reader)
        let projector = try Self.mmprojProjector(reader, visionWidth: vision.config.hiddenSize, textWidth: language.config.hiddenSize)
        let unused = reader.untaken.filter { !$0.hasPrefix("v.post_ln.") }
        guard unused.isEmpty else { throw ModelError.unexpectedWeights(names: unused, source: mmproj.path) }
        var config = LLaVAConfiguration(layout: .original, text: language.config, vision: vision.config,
                                        imageTokenID: LLaVAConfiguration.originalImagePlaceholder,
                                        visionFeatureLayer: try Self.mmprojFeatureLayer(proj), projector: projector.kind,
                                        padsImagesToSquare: proj.metadata["llava.image_aspect_ratio"]?.string != "square",
                                        visionTowerName: mmproj.path,
                                        conversationTemplate: proj.metadata["llava.conversation_template"]?.string)
        config.visionHiddenSize = vision.config.hiddenSize
        let processor = try ImageProcessorConfiguration(mmproj: proj, imageSize: vision.config.imageSize)
        self.init(configuration: config, language: language, vision: vision, projector: projector,
                  tokenizer: try Tokenizer(gguf: llm), imageProcessor: ImageProcessor(configuration: processor),
                  name: gguf.deletingPathExtension().lastPathComponent)
        logger?.info("loaded GGUF LLaVA \(gguf.path) + \(mmproj.path): vision \(vision.config.layerCount) layers, LLM \(language.config.layerCount) layers")
    }

    /// The hidden state LLaVA reads: `clip.vision.feature_layer` when the file names one; else
    /// the LLaVA converter's convention, which drops the tower's last layer so that layer -2 of
    /// the full tower is the last one kept (-1 here); else -2.
    static func mmprojFeatureLayer(_ file: GGUFFile) throws -> Int {
        if let named = file.metadata["clip.vision.feature_layer"] {
            guard let layer = named.array?.first?.int ?? named.int else {
                throw GGUFError.invalidMetadata(file: file.url.path, key: "clip.vision.feature_layer", reason: "expected a layer index")
            }
            return layer
        }
        let truncated = file.metadata["clip.has_llava_projector"]?.bool == true && file.info("v.post_ln.weight") == nil
        return truncated ? -1 : -2
    }

    /// `mm.0` (and `mm.2` for LLaVA-1.5's two-layer MLP), as `clip.projector_type` "mlp" names them.
    static func mmprojProjector(_ r: GGUFTensorReader, visionWidth v: Int, textWidth d: Int) throws -> Projector {
        let type = try GGUFMetadata(r.file).optionalString("clip.projector_type") ?? "mlp"
        guard type == "mlp" else {
            throw GGUFError.invalidMetadata(file: r.file.url.path, key: "clip.projector_type",
                                            reason: "projector '\(type)' is not supported (mlp: LLaVA-1.5's linear or 2-layer MLP)")
        }
        var layers: [(weight: Tensor, bias: Tensor?)] = [(try r.matrix("mm.0.weight", [d, v]).toF32(), try r.vector("mm.0.bias", d))]
        if r.file.info("mm.2.weight") != nil {
            layers.append((try r.matrix("mm.2.weight", [d, d]).toF32(), try r.vector("mm.2.bias", d)))
        }
        return Projector(kind: layers.count == 1 ? .linear : .mlp(depth: 2), activation: .gelu, layers: layers,
                         inputWidth: v, outputWidth: d)
    }
}
