import Checkpoint
import Foundation
import LLaVA
import Language
import Tokenizer
import Vision

// The ```swift examples of the doc comments in LLaVA, Language, Vision and Tokenizer, each
// copied verbatim as the body of a function whose parameters are the names the example takes
// as given (a model, an image, …). This file compiling is the check that the examples compile;
// `DocExamplesTests` checks that every doc-comment example has its copy here, line for line, and
// runs the ones that need no model or file.
//
// Format: a line `// <source file>`, the function, its body indented 8 spaces, a line `    }`.
// To change an example, change it in both places (the test names the one that differs).

// Unused results are part of the examples ("conversation.prompt   // …").
// swiftlint:disable all
struct DocExamples {
    // Sources/LLaVA/ConversationTemplate.swift
    func conversation() {
        var conversation = Conversation(template: .llavaV1)
        conversation.append(user: "<image>\nWhat is in the picture?")
        conversation.prompt   // "A chat between … USER: <image>\nWhat is in the picture? ASSISTANT:"
    }

    // Sources/LLaVA/GGUF/LLaVAGGUF.swift
    func llavaGGUF() throws {
        let model = try LLaVAModel(gguf: URL(fileURLWithPath: "ggml-model-q4_k.gguf"),
                                   mmproj: URL(fileURLWithPath: "mmproj-model-f16.gguf"))
    }

    // Sources/LLaVA/ChatSession.swift
    func chatSession(model: LLaVAModel, image: RGBImage) async throws {
        let session = ChatSession(model: model)
        let stream = session.send("Describe the image.", images: [image])
        for try await piece in stream { print(piece, terminator: "") }
        for try await piece in session.send("What colour is the car?") { print(piece, terminator: "") }
    }

    // Sources/LLaVA/LLaVAModel.swift
    func llavaModel() async throws {
        let model = try LLaVAModel(directory: URL(fileURLWithPath: "/models/llava-1.5-7b-hf"))
        let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "cat.jpg"))
        let session = ChatSession(model: model)
        for try await piece in session.send("What is in this picture?", images: [image]) {
            print(piece, terminator: "")
        }
    }

    // Sources/LLaVA/LLaVAConfigLayout.swift
    func layout() {
        LLaVAConfiguration.layout(of: ["model_type": "llava", "mm_vision_tower": "openai/clip-vit-large-patch14-336",
                                       "hidden_size": 4096, "num_hidden_layers": 32])   // .original
    }

    // Sources/Language/Generation.swift
    func textGenerator(model: LlamaModel, tokenizer: Tokenizer) throws {
        let generator = TextGenerator(model: model, tokenizer: tokenizer)
        let result = try generator.generate(prompt: tokenizer.encode("Once upon a time"),
                                            parameters: GenerationParameters(maxNewTokens: 32)) { piece in
            print(piece, terminator: "")
            return true   // keep going
        }
    }

    // Sources/Language/Generation.swift
    func decodingState(tokenizer: Tokenizer, parameters: GenerationParameters, prompt: [Int],
                       model: LlamaModel, cache: KVCache) throws {
        var state = DecodingState(tokenizer: tokenizer, parameters: parameters, stopTokens: [2], history: prompt)
        var logits = try model.forward(tokens: prompt, cache: cache)
        while let next = state.advance(logits: &logits, cacheFull: false, onText: { print($0); return true }) {
            logits = try model.forward(tokens: [next], cache: cache)
        }
    }

    // Sources/Language/GGUF/GGUFLlama.swift
    func llamaGGUF() throws {
        let file = try GGUFFile(url: URL(fileURLWithPath: "llava-v1.5-7b-Q4_K_M.gguf"))
        let model = try LlamaModel(gguf: file)
        let tokenizer = try Tokenizer(gguf: file)
    }

    // Sources/Language/GGUF/GGUFTokenizer.swift
    func tokenizerGGUF() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(url: URL(fileURLWithPath: "model.gguf")))
    }

    // Sources/Language/GGUF/GGUFTokenizer.swift
    func tokenizerGGUFFiles() throws {
        try Tokenizer.writeFiles(gguf: GGUFFile(url: URL(fileURLWithPath: "model.gguf")),
                                 to: URL(fileURLWithPath: "model-hf"))
    }

    // Sources/Language/LlamaModel.swift
    func llamaModel() throws {
        let model = try LlamaModel(directory: URL(fileURLWithPath: "/models/llama"))
        let cache = model.makeCache()
        let logits = try model.forward(tokens: [1, 15043], cache: cache)   // (V) of the last token
    }

    // Sources/Language/LlamaConfiguration.swift
    func llamaConfiguration(modelDirectory: URL) throws {
        let config = try LlamaConfiguration(contentsOf: modelDirectory.appendingPathComponent("config.json"))
        print(config.hiddenSize, config.layerCount)
    }

    // Sources/Vision/ImageDecoding.swift
    func imageDecoder() throws {
        let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "cat.jpg"))
        print(image.width, image.height, image.pixels.count)  // W, H, W*H*3
    }

    // Sources/Vision/CLIPRandomWeights.swift
    func randomTower() {
        let tower = CLIPVisionModel.random(config: .vitL14_336, dtype: .f16, seed: 1)
    }

    // Sources/Vision/ImageError.swift
    func imageError(url: URL) throws {
        do { _ = try ImageDecoder.decode(contentsOf: url) }
        catch let error as ImageError { print(error) }  // "photo.png: truncated or corrupt PNG data (…)"
    }

    // Sources/Vision/CLIPVisionConfiguration.swift
    func clipVisionConfiguration(llavaDirectory: URL) throws {
        let config = try CLIPVisionConfiguration(contentsOf: llavaDirectory.appendingPathComponent("config.json"))
        print(config.patchesPerSide, config.positionCount)   // 24, 577 for ViT-L/14-336
    }

    // Sources/Vision/ImageResampling.swift
    func resizeBicubicExample(photo: RGBImage) {
        let small = resizeBicubic(photo, width: 448, height: 336)
    }

    // Sources/Vision/GGUF/CLIPVisionGGUF.swift
    func clipGGUF() throws {
        let mmproj = try GGUFFile(url: URL(fileURLWithPath: "mmproj-model-f16.gguf"))
        let tower = try CLIPVisionModel(mmproj: mmproj, reader: GGUFTensorReader(file: mmproj))
    }

    // Sources/Vision/ImageProcessorConfiguration.swift
    func imageProcessorConfiguration(modelDir: URL) throws {
        let config = try ImageProcessorConfiguration(contentsOf: modelDir.appendingPathComponent("preprocessor_config.json"))
        let processor = ImageProcessor(configuration: config)
    }

    // Sources/Vision/Image.swift
    func rgbImage() {
        let red = RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 255, 0, 0])
    }

    // Sources/Vision/ImagePreprocessing.swift
    func imageProcessor(url: URL) throws {
        let processor = ImageProcessor(configuration: .clip336)
        let image = try ImageDecoder.decode(contentsOf: url)
        // LLaVA-1.5 ("pad"): square first, filled with the mean colour.
        let square = expandToSquare(image, background: processor.configuration.meanColor)
        let pixels = processor.preprocess(square)   // 3 x 336 x 336
    }

    // Sources/Vision/ImagePreprocessing.swift
    func expandToSquareExample(image: RGBImage) {
        let square = expandToSquare(image, background: (122, 116, 104))
    }

    // Sources/Vision/CLIPVisionModel.swift
    func clipVisionModel() throws {
        let tower = try CLIPVisionModel(directory: URL(fileURLWithPath: "/models/clip-vit-large-patch14-336"))
        let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "cat.jpg"))
        let pixels = ImageProcessor(configuration: .clip336).preprocess(image)   // (3, 336, 336)
        let features = try tower.features(pixelValues: pixels.values, featureLayer: -2, selection: .default)
        // features.count == 576 * 1024
    }

    // Sources/Tokenizer/BPETrainerOutput.swift
    func trainedBPE(lines: [String]) throws {
        let trained = BPETrainer(vocabularySize: 1000).train(texts: lines)
        try trained.write(to: URL(fileURLWithPath: "tiny-llama"))   // tokenizer.json + tokenizer_config.json
    }

    // Sources/Tokenizer/BPETrainer.swift
    func bpeTrainer() throws {
        let trainer = BPETrainer(vocabularySize: 2000, addedTokens: [("<image>", true), ("<pad>", true)])
        let trained = trainer.train(texts: ["The image shows a red circle.", "What is shown?"])
        try trained.write(to: URL(fileURLWithPath: "out/tokenizer"))
        let tokenizer = try Tokenizer(directory: URL(fileURLWithPath: "out/tokenizer"))
    }

    // Sources/Tokenizer/Tokenizer.swift
    func tokenizer() throws {
        let tokenizer = try Tokenizer(directory: URL(fileURLWithPath: "llava-1.5-7b-hf"))
        let ids = tokenizer.encode("USER: <image>\nWhat is shown? ASSISTANT:")   // starts with BOS
        let text = tokenizer.decode(ids)                                         // specials skipped
    }

    // Sources/Tokenizer/BPETrainerInput.swift
    func trainingText() throws {
        let texts = try BPETrainingText.documents(in: URL(fileURLWithPath: "llava_instruct.json"))
    }

    // Sources/Tokenizer/TokenizerError.swift
    func tokenizerError(url: URL) throws {
        do { _ = try Tokenizer(directory: url) }
        catch let error as TokenizerError { print(error) }   // names the file and key
    }

    // Sources/Tokenizer/StreamingDetokenizer.swift
    func streamingDetokenizer(tokenizer: Tokenizer, generatedIDs: [Int]) {
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        for id in generatedIDs { print(stream.append(id), terminator: "") }
        print(stream.finish())
    }
}
