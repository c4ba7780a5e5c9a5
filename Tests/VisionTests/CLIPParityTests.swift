import Checkpoint
import Foundation
import Tensor
import TestSupport
import Vision
import XCTest

/// The CLIP vision tower against transformers on the tiny fixture towers (scripts/fixtures/clip.py).
///
/// Tolerance, f32 compute: 1e-4 max-abs on every hidden state, feature and pooled output
/// (values are O(1–10); the only differences are summation order in GEMMs, LayerNorm
/// reductions and exp/erf rounding). The f16 tower is compared with transformers run in f32
/// on the f16-rounded weights, so the same tolerance holds. If a fixture looks stale,
/// regenerate with scripts/fixtures/clip.py.
final class CLIPParityTests: XCTestCase {
    struct Reference: Decodable {
        struct Directory: Decodable { let prefix: String; let reference: String }
        let layers: Int
        let directories: [String: Directory]
    }

    static let tolerance: Float = 1e-4
    static let references = ["quick", "gelu"]

    func reference(_ name: String) throws -> Reference { try Fixtures.json("clip/\(name).reference.json") }

    func dump(_ name: String) throws -> SafeTensorsFile { try Fixtures.tensors("clip/\(name).reference.safetensors") }

    func pixels(_ name: String) throws -> [Float] { try dump(name).tensor("pixel_values").toFloatArray() }

    /// Loads a fixture directory: bare CLIP dirs through `init(directory:)`, the llava-hf dir
    /// through its `vision_config` and the detected prefix (its other tensors belong to the LLM).
    func tower(_ directory: String) throws -> CLIPVisionModel {
        let url = Fixtures.url("clip/\(directory)")
        guard directory == "llava" else { return try CLIPVisionModel(directory: url) }
        let config = try CLIPVisionConfiguration(contentsOf: url.appendingPathComponent("config.json"))
        let loader = try WeightLoader(directory: url)
        let prefix = try XCTUnwrap(CLIPVisionModel.detectPrefix(in: loader.store))
        return try CLIPVisionModel(config: config, loader: loader, prefix: prefix)
    }

    func assertClose(_ got: [Float], _ expected: Tensor, shape: [Int], _ label: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(expected.shape, shape, "\(label): reference shape", file: file, line: line)
        let want = expected.toFloatArray()
        guard got.count == want.count else {
            return XCTFail("\(label): \(got.count) values, expected \(want.count)", file: file, line: line)
        }
        let diff = maxAbsDifference(got, want)
        XCTAssertLessThan(diff, Self.tolerance, "\(label): \(differenceReport(got, want))", file: file, line: line)
        let key = label.components(separatedBy: " ").prefix(2).joined(separator: " ")
        maxAbs[key] = max(maxAbs[key] ?? 0, diff)
    }

    /// Worst |Δ| per (directory, quantity), printed at the end of each test for the record.
    var maxAbs: [String: Float] = [:]

    override func tearDown() {
        for (k, v) in maxAbs.sorted(by: { $0.key < $1.key }) { print("CLIP max |Δ| \(k): \(v)") }
        maxAbs = [:]
        super.tearDown()
    }

    func testEveryHiddenStateMatchesTransformers() throws {
        for name in Self.references {
            let ref = try reference(name), dump = try dump(name), input = try pixels(name)
            for (directory, info) in ref.directories.sorted(by: { $0.key < $1.key }) {
                let model = try tower(directory)
                let t = model.config.positionCount, d = model.config.hiddenSize
                var hidden: [Int: [Float]] = [:]
                let last = try model.forward(pixelValues: input, throughLayer: -1) { i, h in
                    hidden[i] = Array(UnsafeBufferPointer(start: h, count: t * d))
                }
                XCTAssertEqual(hidden.keys.sorted(), Array(0...ref.layers), directory)
                for i in 0...ref.layers {
                    let got = try XCTUnwrap(hidden[i], "\(directory) state \(i)")
                    assertClose(got, try dump.tensor("\(info.reference).hidden.\(i)"), shape: [t, d],
                                "\(directory) hidden \(i)")
                }
                XCTAssertEqual(last, hidden[ref.layers], "\(directory): forward returns the last observed state")
            }
        }
    }

    func testFeaturesForLayersMinusTwoAndMinusOneInBothSelections() throws {
        for name in Self.references {
            let ref = try reference(name), dump = try dump(name), input = try pixels(name)
            for (directory, info) in ref.directories.sorted(by: { $0.key < $1.key }) {
                let model = try tower(directory)
                let n = model.config.patchCount, d = model.config.hiddenSize
                for layer in [-2, -1] {
                    for selection in [CLIPFeatureSelection.default, .full] {
                        let got = try model.features(pixelValues: input, featureLayer: layer, selection: selection)
                        let rows = selection == .full ? n + 1 : n
                        assertClose(got, try dump.tensor("\(info.reference).features.\(layer).\(selection.rawValue)"),
                                    shape: [rows, d], "\(directory) features \(layer) \(selection.rawValue)")
                    }
                }
                assertClose(try model.pooledOutput(pixelValues: input), try dump.tensor("\(info.reference).pooled"),
                            shape: [d], "\(directory) pooled")
            }
        }
    }

    func testDirectoriesUseTheExpectedPrefixes() throws {
        for name in Self.references {
            for (directory, info) in try reference(name).directories {
                let store = try WeightStore(directory: Fixtures.url("clip/\(directory)"))
                XCTAssertEqual(CLIPVisionModel.detectPrefix(in: store), info.prefix, directory)
            }
        }
    }

    /// Every known prefix loads the same tower: quick's tensors rewritten under each, alone
    /// and beside foreign tensors that the caller (not the tower) accounts for.
    func testEveryKnownPrefixLoads() throws {
        let source = try WeightStore(directory: Fixtures.url("clip/quick"))
        let config = try CLIPVisionConfiguration(contentsOf: Fixtures.url("clip/quick/config.json"))
        let expected = try dump("quick").tensor("f32.features.-2.default")
        let input = try pixels("quick")
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("clip-prefix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }
        for (i, prefix) in CLIPWeightPrefix.known.enumerated() {
            let url = temp.appendingPathComponent("\(i).safetensors")
            var tensors = try source.tensorNames.map { (name: prefix + $0, tensor: try source.tensor($0)) }
            tensors.append((name: "multi_modal_projector.linear_1.weight", tensor: Tensor(zeros: [2, 2])))
            try SafeTensorsWriter.write(tensors, metadata: nil, to: url)
            let loader = WeightLoader(store: try WeightStore(files: [url]))
            XCTAssertEqual(CLIPVisionModel.detectPrefix(in: loader.store), prefix, "prefix '\(prefix)'")
            let model = try CLIPVisionModel(config: config, loader: loader, prefix: prefix)
            XCTAssertEqual(loader.unusedNames(), ["multi_modal_projector.linear_1.weight"], "prefix '\(prefix)'")
            let got = try model.features(pixelValues: input, featureLayer: -2, selection: .default)
            assertClose(got, expected, shape: [25, 32], "prefix '\(prefix)' features")
        }
    }
}
