import Foundation
import Language
import XCTest

final class ConfigurationTests: XCTestCase {
    func config(_ json: String) throws -> LlamaConfiguration {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return try LlamaConfiguration(json: object, file: "config.json")
    }

    let base = #""hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100"#

    func testTransformersV4Spelling() throws {
        let c = try config("{\(base), \"rope_theta\": 500000.0, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0}, \"num_key_value_heads\": 2}")
        XCTAssertEqual(c.ropeTheta, 500000)
        XCTAssertEqual(c.ropeLinearFactor, 4)
        XCTAssertEqual(c.kvHeadCount, 2)
        XCTAssertEqual(c.headDim, 16)
    }

    func testTransformersV5Spelling() throws {
        let c = try config("{\(base), \"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 1000.0}}")
        XCTAssertEqual(c.ropeTheta, 1000)
        XCTAssertEqual(c.ropeLinearFactor, 2)
        let plain = try config("{\(base), \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}}")
        XCTAssertEqual(plain.ropeLinearFactor, 1)
    }

    func testLlavaHFTextConfigAndEosList() throws {
        let c = try config("{\"model_type\": \"llava\", \"image_token_index\": 32000, \"text_config\": {\(base), \"model_type\": \"llama\", \"eos_token_id\": [2, 7]}}")
        XCTAssertEqual(c.hiddenSize, 64)
        XCTAssertEqual(c.eosTokenIDs, [2, 7])
        XCTAssertEqual(c.ropeTheta, 10000)
    }

    /// The reference's original-layout spellings are read as the LLaVA config they are, not as a bare LLM's.
    func testOriginalLLaVASpellingsNeedTheOriginalSource() throws {
        for type in ["llava", "llava_llama", "llava_mistral"] {
            let json = try JSONSerialization.jsonObject(with: Data("{\(base), \"model_type\": \"\(type)\"}".utf8)) as! [String: Any]
            XCTAssertEqual(try LlamaConfiguration(json: json, file: "config.json", source: .originalLLaVA).hiddenSize, 64, type)
            XCTAssertThrowsError(try LlamaConfiguration(json: json, file: "config.json")) { error in
                XCTAssertTrue("\(error)".contains("'\(type)' is not a LLaMA-family decoder") && "\(error)".contains("loads as one"), "\(error)")
            }
        }
    }

    func testBadValuesNameTheirKey() {
        func expect(_ json: String, key: String) {
            XCTAssertThrowsError(try config(json)) { error in
                guard case ModelError.invalidConfig(_, let k, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(k, key)
                XCTAssertTrue("\(error)".contains("config.json"), "\(error)")
            }
        }
        expect("{\(base), \"num_key_value_heads\": 3}", key: "num_key_value_heads")
        expect("{\(base), \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}}", key: "rope_scaling.rope_type")
        expect("{\"hidden_size\": \"big\"}", key: "hidden_size")
        expect("{\(base), \"model_type\": \"bert\"}", key: "model_type")
        expect("{\(base), \"attention_bias\": 1}", key: "attention_bias")
        expect("{\(base), \"rope_parameters\": {\"rope_theta\": \"x\"}}", key: "rope_parameters.rope_theta")
    }
}

final class SamplerTests: XCTestCase {
    func testGreedyIsArgmaxWithFirstTie() {
        var s = Sampler(SamplingParameters())
        var logits: [Float] = [0.1, 3, 3, -1]
        XCTAssertEqual(s.next(logits: &logits, history: []), 1)
    }

    func testRepetitionPenaltyDividesPositiveAndMultipliesNegative() {
        var s = Sampler(SamplingParameters(repetitionPenalty: 2))
        var logits: [Float] = [4, 3, -1, -2]
        XCTAssertEqual(s.next(logits: &logits, history: [0, 0, 3]), 1)
        XCTAssertEqual(logits, [2, 3, -1, -4])
    }

    func testTopKOneAndTinyTopPAreGreedy() {
        for p in [SamplingParameters(temperature: 1, topK: 1, seed: 1),
                  SamplingParameters(temperature: 1, topP: 0.01, seed: 1)] {
            var s = Sampler(p)
            for _ in 0..<20 {
                var logits: [Float] = [1, 2, 5, 4.9]
                XCTAssertEqual(s.next(logits: &logits, history: []), 2)
            }
        }
    }

    func testTopPKeepsTheSmallestSetReachingTheMass() {
        // probabilities ≈ 0.64, 0.24, 0.09, 0.03: top_p 0.8 keeps the first two only
        var s = Sampler(SamplingParameters(temperature: 1, topP: 0.8, seed: 5))
        var seen = Set<Int>()
        for _ in 0..<400 {
            var logits: [Float] = [0, 1, 2, 3].map { -$0 }
            seen.insert(s.next(logits: &logits, history: []))
        }
        XCTAssertEqual(seen, [0, 1])
    }

    func testSeedMakesSamplingReproducible() {
        func run(_ seed: UInt64) -> [Int] {
            var s = Sampler(SamplingParameters(temperature: 1, seed: seed))
            return (0..<50).map { _ in var l: [Float] = [0, 0.5, 1, 0.2]; return s.next(logits: &l, history: []) }
        }
        XCTAssertEqual(run(42), run(42))
        XCTAssertNotEqual(run(42), run(43))
        XCTAssertEqual(Set(run(7)), [0, 1, 2, 3])
    }
}

final class StopStringTests: XCTestCase {
    func testHoldsBackPossibleStopPrefixAndCutsAtStop() {
        var f = StopStringFilter(stopStrings: ["</s>", "USER:"])
        XCTAssertEqual(f.push("Hello <").0, "Hello ")
        XCTAssertEqual(f.push("b").0, "<b")
        XCTAssertEqual(f.push(" US").0, " ")
        let (out, stopped) = f.push("ER: next")
        XCTAssertEqual(out, "")
        XCTAssertTrue(stopped)
        XCTAssertEqual(f.emitted, "Hello <b ")
    }

    func testFlushReleasesHeldText() {
        var f = StopStringFilter(stopStrings: ["###"])
        XCTAssertEqual(f.push("a#").0, "a")
        XCTAssertEqual(f.flush(), "#")
        XCTAssertEqual(f.emitted, "a#")
    }
}
