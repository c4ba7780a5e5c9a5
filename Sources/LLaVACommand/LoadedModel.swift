import ArgumentParser
import Checkpoint
import Foundation
import LLaVA
import Language
import Logging
import Tokenizer

/// What a model directory holds: a LLaVA model, or a bare language model.
enum LoadedModel {
    case llava(LLaVAModel)
    case text(LlamaModel, Tokenizer)

    init(directory path: String, visionTower: String?, mmproj: String? = nil, logger: Logger) throws {
        if let files = try GGUFModelFiles(path: path, mmproj: mmproj) {
            self = try Self(gguf: files, logger: logger)
            return
        }
        if mmproj != nil { throw ValidationError("--mmproj goes with a GGUF --model (a .gguf file or a folder of them); \(path) is not one") }
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

    /// A GGUF language model, with its mmproj file a LLaVA model.
    private init(gguf files: GGUFModelFiles, logger: Logger) throws {
        let clock = ContinuousClock(), start = clock.now
        if let mmproj = files.mmproj {
            self = .llava(try LLaVAModel(gguf: files.model, mmproj: mmproj, logger: logger))
        } else {
            let file = try GGUFFile(url: files.model)
            self = .text(try LlamaModel(gguf: file), try Tokenizer(gguf: file))
        }
        logger.info("loaded \(files.model.path)\(files.mmproj.map { " + " + $0.path } ?? "") in \(clock.now - start)")
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

/// The files of a model in llama.cpp's format: the language model GGUF and, for LLaVA, the
/// `mmproj` GGUF (CLIP tower + projector). `--model` names the file, or a folder that holds
/// one language-model GGUF and at most one whose name contains "mmproj".
struct GGUFModelFiles {
    let model: URL
    let mmproj: URL?

    /// nil when `path` is not GGUF (a safetensors checkpoint folder).
    init?(path: String, mmproj: String?) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw ModelError.missingFile(path) }
        let url = URL(fileURLWithPath: path)
        if !isDirectory.boolValue {
            guard path.hasSuffix(".gguf") else { return nil }
            model = url
            self.mmproj = mmproj.map { URL(fileURLWithPath: $0) }
            return
        }
        guard !FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else { return nil }
        let ggufs = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".gguf") }.sorted()
        let projectors = ggufs.filter { $0.lowercased().contains("mmproj") }
        let models = ggufs.filter { !$0.lowercased().contains("mmproj") }
        guard !ggufs.isEmpty else { return nil }
        guard models.count == 1, projectors.count <= 1 else {
            throw ValidationError("\(path) holds \(models.count) language-model GGUF files (\(models.joined(separator: ", "))) and \(projectors.count) mmproj files: pass --model FILE.gguf --mmproj FILE.gguf")
        }
        model = url.appendingPathComponent(models[0])
        self.mmproj = mmproj.map { URL(fileURLWithPath: $0) } ?? projectors.first.map { url.appendingPathComponent($0) }
    }
}
