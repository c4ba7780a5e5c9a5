import Foundation
import LLaVA
import Language
import Tensor

/// What learns in a run.
public enum TrainingStage: Sendable, Equatable {
    /// Stage 1, feature alignment: the projector only.
    case pretrain
    /// Stage 2, visual instruction tuning: projector and the whole LLM.
    case finetuneFull
    /// Stage 2 with LoRA on every Linear of the LLM's blocks; projector fully trained.
    case finetuneLoRA(rank: Int, alpha: Float, dropout: Float)

    var decoderMode: DecoderTraining {
        switch self {
        case .pretrain: return .frozen
        case .finetuneFull: return .full
        case .finetuneLoRA(let r, let a, let d): return .lora(rank: r, alpha: a, dropout: d)
        }
    }
}

extension LLaVATrainingModel {
    /// The trainable graph over a loaded LLaVA model's decoder and projector.
    /// `projectorLRScale` is `--mm-projector-lr` over the base learning rate.
    public convenience init(model: LLaVAModel, stage: TrainingStage, projectorLRScale: Float = 1, seed: UInt64 = 0) {
        let decoder = TrainableDecoder(weights: model.language.weights, config: model.language.config,
                                       mode: stage.decoderMode, seed: seed)
        let names = model.projector.layers.indices.map { "multi_modal_projector.linear_\($0 + 1)" }
        let projector = TrainableProjector(model.projector, names: names, lrScale: projectorLRScale)
        // Training sequences carry the original layout's single -200 placeholder per image.
        self.init(decoder: decoder, projector: projector, imageTokenID: originalImagePlaceholder,
                  featuresPerImage: model.featuresPerImage)
    }
}
