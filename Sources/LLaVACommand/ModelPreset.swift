import ArgumentParser
import Checkpoint
import Foundation
import LLaVA
import Language
import Tensor
import Tokenizer
import Vision

enum WeightType: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16
    var dtype: DType { switch self { case .f32: .f32; case .f16: .f16; case .bf16: .bf16 } }
}

/// Weight types of a preset's random model (`bench`, `serve`): the language model's matrices
/// are stored in this type; when it is quantised the vision tower and projector stay f16, as
/// in llama.cpp's mmproj files.
enum PresetWeights: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16, q8_0, q4_0, q4_k_m
    var fileType: LlamaFileType {
        switch self {
        case .f32: .uniform(.f32)
        case .f16: .uniform(.f16)
        case .bf16: .uniform(.bf16)
        case .q8_0: .uniform(.q8_0)
        case .q4_0: .uniform(.q4_0)
        case .q4_k_m: .q4KM
        }
    }
    var vision: DType {
        switch self {
        case .f32: .f32
        case .bf16: .bf16
        default: .f16
        }
    }
    static var list: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension LlamaModel {
    /// A model of `config`'s shape with random weights stored as `weights` says.
    static func random(config: LlamaConfiguration, weights: PresetWeights, seed: UInt64) -> LlamaModel {
        let kind = weights.fileType
        return random(config: config, seed: seed) { DType(ggml: kind.type(of: $0, layerCount: config.layerCount)) }
    }
}

/// Shapes of real models, for benchmarking without their weights.
enum ModelPreset: String, ExpressibleByArgument, CaseIterable {
    case llava7b = "llava-1.5-7b", llava13b = "llava-1.5-13b", llama7b = "llama-7b", llama13b = "llama-13b"
    case tiny, tinyLLaVA = "tiny-llava"

    /// Vicuna-7B/13B v1.5 as in LLaVA-1.5 (vocab 32064 in llava-hf: 32000 + `<image>` + padding).
    var text: LlamaConfiguration {
        switch self {
        case .llava7b, .llama7b:
            return LlamaConfiguration(vocabularySize: 32064, hiddenSize: 4096, intermediateSize: 11008,
                                      layerCount: 32, headCount: 32, rmsNormEps: 1e-5, maxPositionEmbeddings: 4096)
        case .llava13b, .llama13b:
            return LlamaConfiguration(vocabularySize: 32064, hiddenSize: 5120, intermediateSize: 13824,
                                      layerCount: 40, headCount: 40, rmsNormEps: 1e-5, maxPositionEmbeddings: 4096)
        case .tiny, .tinyLLaVA:
            return LlamaConfiguration(vocabularySize: 1000, hiddenSize: 256, intermediateSize: 688,
                                      layerCount: 4, headCount: 8, kvHeadCount: 4, rmsNormEps: 1e-5)
        }
    }

    /// CLIP ViT-L/14 at 336 px for LLaVA-1.5; none for the bare LLMs.
    var vision: CLIPVisionConfiguration? {
        switch self {
        case .llava7b, .llava13b: return .vitL14_336
        case .tinyLLaVA:
            return CLIPVisionConfiguration(hiddenSize: 128, intermediateSize: 512, layerCount: 4, headCount: 4,
                                           imageSize: 112, patchSize: 14)
        default: return nil
        }
    }
}


extension ModelPreset {
    /// LLaVA-1.5's projector (mlp2x_gelu) with random weights: vision width → LLM width.
    func randomProjector(visionWidth v: Int, dtype: DType) -> Projector {
        let d = text.hiddenSize
        return Projector(kind: .mlp(depth: 2), activation: .gelu,
                         layers: [(Tensor.uniform([d, v], dtype: dtype, seed: 3), Tensor(zeros: [d])),
                                  (Tensor.uniform([d, d], dtype: dtype, seed: 4), Tensor(zeros: [d]))],
                         inputWidth: v, outputWidth: d)
    }

    /// A whole LLaVA of this shape with random weights, for serving and load tests without a
    /// download. It borrows `donor`'s tokenizer, `<image>` id and conversation template (ids the
    /// tokenizer does not know decode to nothing) and gets CLIP's preprocessing at the tower's size.
    func randomLLaVA(weights: PresetWeights, donor: LLaVAModel) throws -> LLaVAModel {
        guard let visionConfig = vision else {
            throw ValidationError("--preset \(rawValue) has no vision tower; pick one of \(Self.withVision.map(\.rawValue).joined(separator: ", "))")
        }
        let imageToken = donor.configuration.imageTokenID
        guard imageToken < text.vocabularySize else {
            throw ValidationError("--preset \(rawValue): the tokenizer's <image> id \(imageToken) is outside its \(text.vocabularySize) embeddings")
        }
        let configuration = LLaVAConfiguration(layout: .llavaHF, text: text, vision: visionConfig, imageTokenID: imageToken,
                                               padsImagesToSquare: false,
                                               conversationTemplate: ConversationTemplate.automatic(for: donor).name)
        var processor = ImageProcessorConfiguration.clip336
        processor.size = .shortestEdge(visionConfig.imageSize)
        processor.cropHeight = visionConfig.imageSize
        processor.cropWidth = visionConfig.imageSize
        return LLaVAModel(configuration: configuration,
                          language: LlamaModel.random(config: text, weights: weights, seed: 1),
                          vision: CLIPVisionModel.random(config: visionConfig, dtype: weights.vision, seed: 2),
                          projector: randomProjector(visionWidth: visionConfig.hiddenSize, dtype: weights.vision),
                          tokenizer: donor.tokenizer, imageProcessor: ImageProcessor(configuration: processor),
                          name: "\(rawValue)-random-\(weights.rawValue)")
    }

    /// The presets that are whole LLaVA models (a vision tower and a language model).
    static var withVision: [ModelPreset] { allCases.filter { $0.vision != nil } }
}
