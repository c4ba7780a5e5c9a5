import ArgumentParser
import Foundation
import LLaVA
import Training

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model in llava-hf layout, folding a LoRA adapter into its weights.",
        discussion: "llava export --model BASE --adapter RUN/adapter --merge-lora --output MERGED")

    @Option(help: "The base model: a LLaVA checkpoint, or a bare LLM with --vision-tower.") var model: String
    @Option(help: "CLIP tower directory (bare LLM or original layout).") var visionTower: String?
    @Option(help: "Stage-1 projector for a bare LLM.") var projector: String?
    @Option(help: "A LoRA adapter directory written by `llava train finetune --lora-r N`.") var adapter: String?
    @Flag(help: "Fold the adapter into the weights (W + alpha/r * B A).") var mergeLora = false
    @Option(help: "Output directory.") var output: String
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        guard adapter == nil || mergeLora else { throw ValidationError("--adapter needs --merge-lora (unmerged adapters are not exported)") }
        let base = try ModelSource(modelPath: URL(fileURLWithPath: model), visionTower: visionTower.map { URL(fileURLWithPath: $0) },
                                   projectorFile: projector.map { URL(fileURLWithPath: $0) }).load()
        var stage = TrainingStage.finetuneFull
        if let adapter {
            let s = try ModelExport.adapterSettings(URL(fileURLWithPath: adapter))
            stage = .finetuneLoRA(rank: s.rank, alpha: s.alpha, dropout: 0)
        }
        let graph = LLaVATrainingModel(model: base, stage: stage)
        if let adapter { try ModelExport.loadAdapter(URL(fileURLWithPath: adapter), into: graph.decoder) }
        try ModelExport.writeLLaVAHF(to: URL(fileURLWithPath: output), decoder: graph.decoder, projector: graph.projector,
                                     vision: base.vision, llava: base.configuration, tokenizerDirectory: URL(fileURLWithPath: model),
                                     imageProcessor: base.imageProcessor.configuration)
        printErr("wrote \(output)")
    }
}
