import Foundation
import Language
import Logging
import Tokenizer

/// A model directory's decoder and tokenizer, loaded for a command.
struct LoadedModel {
    let model: LlamaModel
    let tokenizer: Tokenizer

    init(directory path: String, logger: Logger) throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError.missingFile(path)
        }
        let clock = ContinuousClock()
        let start = clock.now
        tokenizer = try Tokenizer(directory: url)
        model = try LlamaModel(directory: url)
        logger.info("loaded \(path): \(model.config.layerCount) layers, hidden \(model.config.hiddenSize), vocab \(model.config.vocabularySize) in \(clock.now - start)")
    }
}
