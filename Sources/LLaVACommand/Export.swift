import ArgumentParser
import Foundation
import LLaVA
import Training

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model in llava-hf layout, folding a LoRA adapter into its weights.",
        discussion: """
            llava export --model BASE --adapter RUN/adapter --merge-lora --output MERGED
            BASE is the model the run started from (with the same --vision-tower and --projector); the merged model \
            carries the projector the run trained (RUN/adapter/non_lora_trainables.safetensors) and equals RUN/model.
            """)

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
        let graph: LLaVATrainingModel, base: LLaVAModel
        if let adapter {
            (base, graph) = try merged(adapter: URL(fileURLWithPath: adapter))
        } else {
            base = try source().load()
            graph = LLaVATrainingModel(model: base, stage: .finetuneFull)
        }
        try ModelExport.writeLLaVAHF(to: URL(fileURLWithPath: output), decoder: graph.decoder, projector: graph.projector,
                                     vision: base.vision, llava: base.configuration, tokenizerDirectory: URL(fileURLWithPath: model),
                                     imageProcessor: base.imageProcessor.configuration)
        printErr("wrote \(output)")
    }

    func source() -> ModelSource {
        ModelSource(modelPath: URL(fileURLWithPath: model), visionTower: visionTower.map { URL(fileURLWithPath: $0) },
                    projectorFile: projector.map { URL(fileURLWithPath: $0) })
    }

    /// The base with the run's trained projector, and a LoRA graph holding the run's adapters.
    func merged(adapter: URL) throws -> (LLaVAModel, LLaVATrainingModel) {
        try LoRAAdapterFiles.requireFiles(in: adapter)  // before the (slow) base is loaded
        let config = try AdapterConfiguration(directory: adapter)
        // A bare LLM is assembled as the run assembled it; a LLaVA base brings its own settings.
        var source = source()
        source.projectorKind = config.base.projector
        source.visionFeatureLayer = config.base.visionFeatureLayer
        source.featureSelection = config.base.featureSelection
        source.padsImagesToSquare = config.base.padsImagesToSquare
        var base = try source.load()
        try config.base.check(base, file: config.file)
        base = try base.replacingProjector(try LoRAAdapterFiles.loadProjector(adapter, like: base.projector))
        let graph = LLaVATrainingModel(model: base, stage: .finetuneLoRA(rank: config.rank, alpha: config.alpha, dropout: 0))
        try LoRAAdapterFiles.loadAdapter(adapter, into: graph.decoder)
        return (base, graph)
    }
}
