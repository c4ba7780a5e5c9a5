import Foundation
import LLaVA
import Language
import TestSupport
import Vision
import XCTest

/// The config.json spellings of the reference's released checkpoints (haotian-liu/LLaVA):
/// each is written onto a copy of an original-layout fixture and must load and answer exactly
/// as the fixture does. The JSON below keeps each release's keys and spellings (model_type,
/// architectures, the `mm_*` keys, nulls); the keys in `fixtureKeys` (sizes, and the padding the
/// fixture was made with) are then taken from the fixture so its weights fit.
final class ReleasedConfigTests: XCTestCase {
    /// liuhaotian/llava-v1.5-7b: `llava`, mlp2x_gelu.
    static let v15 = #"""
    {"_name_or_path": "./checkpoints/vicuna-7b-v1-5", "architectures": ["LlavaLlamaForCausalLM"], "bos_token_id": 1,
     "eos_token_id": 2, "freeze_mm_mlp_adapter": false, "hidden_act": "silu", "hidden_size": 4096, "image_aspect_ratio": "pad",
     "image_grid_pinpoints": null, "initializer_range": 0.02, "intermediate_size": 11008, "max_length": 4096,
     "max_position_embeddings": 4096, "mm_hidden_size": 1024, "mm_projector_type": "mlp2x_gelu", "mm_resampler_type": null,
     "mm_use_im_patch_token": false, "mm_use_im_start_end": false, "mm_vision_select_feature": "patch",
     "mm_vision_select_layer": -2, "mm_vision_tower": "openai/clip-vit-large-patch14-336", "model_type": "llava",
     "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "pad_token_id": 0, "pretraining_tp": 1,
     "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "float16",
     "transformers_version": "4.31.0", "tune_mm_mlp_adapter": false, "tune_mm_vision_resampler": false,
     "unfreeze_mm_vision_tower": false, "use_cache": true, "use_mm_proj": true, "vocab_size": 32000}
    """#

    /// liuhaotian/llava-v1-0719-336px-LoRA-Vicuna-13B-v1.3 (merged) and LLaVA-Lightning: `llava`,
    /// no mm_projector_type (the projector is then `linear`).
    static let v1 = #"""
    {"_name_or_path": "lmsys/vicuna-13b-v1.3", "architectures": ["LlavaLlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
     "freeze_mm_mlp_adapter": false, "hidden_act": "silu", "hidden_size": 5120, "image_aspect_ratio": "square",
     "initializer_range": 0.02, "intermediate_size": 13824, "max_position_embeddings": 2048, "mm_hidden_size": 1024,
     "mm_use_im_patch_token": false, "mm_use_im_start_end": false, "mm_vision_select_feature": "patch",
     "mm_vision_select_layer": -2, "mm_vision_tower": "openai/clip-vit-large-patch14-336", "model_type": "llava",
     "num_attention_heads": 40, "num_hidden_layers": 40, "pad_token_id": 0, "rms_norm_eps": 1e-06,
     "tie_word_embeddings": false, "torch_dtype": "float16", "transformers_version": "4.31.0", "tune_mm_mlp_adapter": false,
     "use_cache": true, "use_mm_proj": true, "vocab_size": 32000}
    """#

    /// liuhaotian/llava-llama-2-13b-chat-lightning-preview: `llava`, LLaMA-2 keys, no mm_projector_type.
    static let llama2 = #"""
    {"_name_or_path": "meta-llama/Llama-2-13b-chat-hf", "architectures": ["LlavaLlamaForCausalLM"], "bos_token_id": 1,
     "eos_token_id": 2, "freeze_mm_mlp_adapter": false, "hidden_act": "silu", "hidden_size": 5120, "initializer_range": 0.02,
     "intermediate_size": 13824, "max_position_embeddings": 4096, "mm_hidden_size": 1024, "mm_use_im_patch_token": false,
     "mm_use_im_start_end": false, "mm_vision_select_layer": -2, "mm_vision_tower": "openai/clip-vit-large-patch14",
     "model_type": "llava", "num_attention_heads": 40, "num_hidden_layers": 40, "num_key_value_heads": 40, "pad_token_id": 0,
     "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "float16",
     "transformers_version": "4.31.0", "tune_mm_mlp_adapter": false, "use_cache": true, "use_mm_proj": true, "vocab_size": 32000}
    """#

    /// The Mistral variants: `llava_mistral`, LlavaMistralForCausalLM, Mistral's own keys.
    static let mistral = #"""
    {"_name_or_path": "mistralai/Mistral-7B-Instruct-v0.2", "architectures": ["LlavaMistralForCausalLM"], "attention_dropout": 0.0,
     "bos_token_id": 1, "eos_token_id": 2, "freeze_mm_mlp_adapter": false, "hidden_act": "silu", "hidden_size": 4096,
     "image_aspect_ratio": "pad", "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 32768,
     "mm_hidden_size": 1024, "mm_projector_lr": 2e-05, "mm_projector_type": "mlp2x_gelu", "mm_use_im_patch_token": false,
     "mm_use_im_start_end": false, "mm_vision_select_feature": "patch", "mm_vision_select_layer": -2,
     "mm_vision_tower": "openai/clip-vit-large-patch14-336", "model_type": "llava_mistral", "num_attention_heads": 32,
     "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "sliding_window": null,
     "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.36.2", "tune_mm_mlp_adapter": false,
     "use_cache": true, "use_mm_proj": true, "vocab_size": 32000}
    """#

    /// The spelling later versions of the reference write (`LlavaConfig.model_type`).
    static let llavaLlama = #"""
    {"architectures": ["LlavaLlamaForCausalLM"], "hidden_size": 4096, "image_aspect_ratio": "pad", "mm_hidden_size": 1024,
     "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2, "mm_vision_tower": "openai/clip-vit-large-patch14-336",
     "model_type": "llava_llama", "num_hidden_layers": 32, "vocab_size": 32000}
    """#

    /// liuhaotian/LLaVA-Lightning-MPT-7B-preview: an MPT decoder (d_model, n_layers), refused.
    static let mpt = #"""
    {"architectures": ["LlavaMPTForCausalLM"], "attn_config": {"alibi": true, "attn_impl": "torch"}, "d_model": 4096,
     "expansion_ratio": 4, "max_seq_len": 2048, "mm_hidden_size": 1024, "mm_use_im_start_end": true,
     "mm_vision_select_layer": -2, "mm_vision_tower": "openai/clip-vit-large-patch14", "model_type": "llava_mpt",
     "n_heads": 32, "n_layers": 32, "vocab_size": 50432}
    """#

    static let fixtureKeys = ["hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers",
                              "num_key_value_heads", "vocab_size", "max_position_embeddings", "mm_hidden_size",
                              "rms_norm_eps", "rope_theta", "image_aspect_ratio"]

    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("released-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static func object(_ json: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
    }

    /// A copy of fixture `name` (same directory name, so the same template is picked) whose
    /// config.json is `released` with the fixture's sizes.
    func copy(_ name: String, as released: String, label: String) throws -> URL {
        let copy = dir.appendingPathComponent(label).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("llava/\(name)"), to: copy)
        let fixture = try Self.object(String(contentsOf: Fixtures.url("llava/\(name)/config.json"), encoding: .utf8))
        var config = try Self.object(released)
        for key in Self.fixtureKeys { config[key] = fixture[key] }
        try JSONSerialization.data(withJSONObject: config).write(to: copy.appendingPathComponent("config.json"))
        return copy
    }

    func testReleasedSpellingsLoadAndAnswerAsTheFixture() throws {
        let cases: [(String, String, String, ProjectorKind)] = [
            ("v1.5", Self.v15, "orig-mlp2x", .mlp(depth: 2)), ("v1", Self.v1, "orig-linear", .linear),
            ("llama-2", Self.llama2, "orig-linear", .linear), ("mistral", Self.mistral, "orig-mlp2x", .mlp(depth: 2)),
            ("llava_llama", Self.llavaLlama, "orig-mlp2x", .mlp(depth: 2)),
        ]
        let image = try ImageDecoder.decode(contentsOf: Fixtures.url("images/photo_500x333.jpg"))
        for (label, released, fixture, projector) in cases {
            let tower = Fixtures.url("llava/\(fixture)-clip")
            let expected = try LLaVAModel(directory: Fixtures.url("llava/\(fixture)"), visionTower: tower)
            let model = try LLaVAModel(directory: try copy(fixture, as: released, label: label), visionTower: tower)
            XCTAssertEqual(model.configuration.layout, .original, label)
            XCTAssertEqual(model.configuration.projector, projector, label)
            var text = model.configuration.text
            text.padTokenID = nil  // the releases say 0; the fixture has none
            XCTAssertEqual(text, expected.configuration.text, label)

            let ref: LLaVAParityTests.Reference = try Fixtures.json("llava/\(fixture).reference.json")
            XCTAssertEqual(try lastLogits(model, ref.prompt, image), try lastLogits(expected, ref.prompt, image), label)
            let result = try model.generate(prompt: ref.prompt, images: [image], parameters: GenerationParameters(maxNewTokens: ref.new_tokens))
            XCTAssertEqual(result.tokenIDs, ref.cases.first { $0.image == "photo_500x333.jpg" }?.greedy, label)
        }
    }

    func lastLogits(_ model: LLaVAModel, _ prompt: String, _ image: RGBImage) throws -> [Float] {
        let items = try model.promptEncoder.encode(prompt, imageCount: 1)
        let projected = try model.project(pixelValues: model.pixelValues(for: image).values)
        let embeddings = try model.embeddings(for: items[...], images: [0: projected])
        return try model.language.forward(embeddings: embeddings, cache: model.language.makeCache())
    }

    /// llava-hf says model_type "llava" too; its nested configs decide.
    func testLayoutIsToldByKeysNotModelType() throws {
        let hf = try Self.object(String(contentsOf: Fixtures.url("llava/hf-mlp2x-default/config.json"), encoding: .utf8))
        XCTAssertEqual(hf["model_type"] as? String, "llava")
        XCTAssertEqual(LLaVAConfiguration.layout(of: hf), .llavaHF)
        XCTAssertEqual(try LLaVAConfiguration(json: hf, file: "config.json").layout, .llavaHF)
        for released in [Self.v15, Self.v1, Self.llama2, Self.mistral, Self.llavaLlama] {
            let json = try Self.object(released)
            XCTAssertEqual(LLaVAConfiguration.layout(of: json), .original)
            XCTAssertTrue(LLaVAConfiguration.describesLLaVA(json))
            XCTAssertEqual(try LLaVAConfiguration(json: json, file: "config.json").layout, .original)
        }
        let bare = try Self.object(String(contentsOf: Fixtures.url("llama/mha/config.json"), encoding: .utf8))
        XCTAssertNil(LLaVAConfiguration.layout(of: bare))
        XCTAssertFalse(LLaVAConfiguration.describesLLaVA(bare))
    }

    /// A config that says LLaVA but fits neither layout is refused with what it holds.
    func testNeitherLayoutIsATypedErrorNamingWhatWasFound() throws {
        func refusal(_ json: [String: Any]) -> LLaVAError? {
            XCTAssertTrue(LLaVAConfiguration.describesLLaVA(json))
            do { _ = try LLaVAConfiguration(json: json, file: "/m/config.json") } catch let e as LLaVAError { return e } catch {
                XCTFail("\(error)")
            }
            return nil
        }
        let mpt = try XCTUnwrap(refusal(try Self.object(Self.mpt)))
        guard case .unrecognizedLayout(let file, let found) = mpt else { return XCTFail("\(mpt)") }
        XCTAssertEqual(file, "/m/config.json")
        XCTAssertEqual(found.modelType, "llava_mpt")
        XCTAssertEqual(found.architectures, ["LlavaMPTForCausalLM"])
        XCTAssertEqual(found.keys, ["mm_vision_tower", "mm_hidden_size"])
        for part in ["/m/config.json", "model_type 'llava_mpt'", "LlavaMPTForCausalLM", "keys mm_vision_tower, mm_hidden_size"] {
            XCTAssertTrue("\(mpt)".contains(part), "\(mpt)")
        }
        let bareLlava = try XCTUnwrap(refusal(["model_type": "llava", "architectures": ["LlavaLlamaForCausalLM"]]))
        XCTAssertTrue("\(bareLlava)".contains("model_type 'llava', architectures LlavaLlamaForCausalLM, none of those keys"), "\(bareLlava)")
    }

    /// An MPT (or other) decoder under LLaMA-shaped keys is refused by its model_type or architectures.
    func testNonLLaMADecoderIsRefusedByName() throws {
        var json = try Self.object(Self.v15)
        json["model_type"] = "llava_mpt"
        json["architectures"] = ["LlavaMPTForCausalLM"]
        XCTAssertThrowsError(try LLaVAConfiguration(json: json, file: "config.json")) { error in
            guard case ModelError.invalidConfig(_, let key, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "model_type")
            XCTAssertTrue("\(error)".contains("'llava_mpt' (architectures LlavaMPTForCausalLM) is not a LLaMA-family decoder"), "\(error)")
        }
        json["model_type"] = "llava"
        XCTAssertThrowsError(try LLaVAConfiguration(json: json, file: "config.json")) { error in
            guard case ModelError.invalidConfig(_, let key, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "architectures")
            XCTAssertTrue("\(error)".contains("'LlavaMPTForCausalLM'"), "\(error)")
        }
    }
}
