import Foundation
import LLaVA
import Language
import Logging
import Tokenizer

/// What a model directory holds: a LLaVA model, or a bare language model.
enum LoadedModel {
    case llava(LLaVAModel)
    case text(LlamaModel, Tokenizer)

    init(directory path: String, visionTower: String?, logger: Logger) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError.missingFile(path)
        }
        let url = URL(fileURLWithPath: path)
        let configURL = url.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else { throw ModelError.missingFile(configURL.path) }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.invalidConfig(file: configURL.path, key: "", reason: "not a JSON object")
        }
        let clock = ContinuousClock()
        let start = clock.now
        if LLaVAConfiguration.describesLLaVA(json) {
            let model = try LLaVAModel(directory: url, visionTower: visionTower.map { URL(fileURLWithPath: $0) }, logger: logger)
            self = .llava(model)
            logger.info("loaded \(model.configuration.layout.rawValue) LLaVA \(path) in \(clock.now - start): vision \(model.vision.config.layerCount) layers, projector \(model.configuration.projector), LLM \(model.language.config.layerCount) layers")
        } else {
            if visionTower != nil { logger.warning("--vision-tower ignored: \(path) is a text-only model") }
            let tokenizer = try Tokenizer(directory: url)
            let model = try LlamaModel(directory: url)
            self = .text(model, tokenizer)
            logger.info("loaded \(path) in \(clock.now - start): \(model.config.layerCount) layers, hidden \(model.config.hiddenSize)")
        }
    }

    var tokenizer: Tokenizer {
        switch self {
        case .llava(let m): return m.tokenizer
        case .text(_, let t): return t
        }
    }

    var language: LlamaModel {
        switch self {
        case .llava(let m): return m.language
        case .text(let m, _): return m
        }
    }
}
