import Foundation
import XCTest
@testable import Checkpoint
import Tensor

/// Directories of weights: sharded index, single file, loose files, and strict loading on top.
final class WeightStoreTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTempDirectory(self) }

    private func write(_ name: String, _ tensors: [(name: String, tensor: Tensor)]) throws {
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: dir.appendingPathComponent(name))
    }

    private func writeIndex(_ weightMap: [String: String]) throws {
        let object: [String: Any] = ["metadata": ["total_size": 40], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: object).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
    }

    /// Two shards written by the writer: `a`, `b` in the first, `c` in the second.
    private func writeShards() throws {
        try write("model-00001-of-00002.safetensors", [("a", Tensor([1, 2], shape: [2])), ("b", Tensor([3, 4, 5, 6], shape: [2, 2]))])
        try write("model-00002-of-00002.safetensors", [("c", Tensor([7, 8, 9], shape: [3]))])
    }

    // MARK: - Sharded

    func testShardedIndex() throws {
        try writeShards()
        try writeIndex(["a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                        "c": "model-00002-of-00002.safetensors"])
        let store = try WeightStore(directory: dir)
        XCTAssertEqual(store.tensorNames, ["a", "b", "c"])
        XCTAssertEqual(store.files.count, 2)
        XCTAssertEqual(store.metadata, ["total_size": "40"])
        XCTAssertTrue(store.contains("c"))
        XCTAssertFalse(store.contains("d"))
        XCTAssertEqual(store.info("b"), TensorInfo(dtype: .f32, shape: [2, 2], byteRange: 8..<24))
        XCTAssertEqual(try store.tensor("b").toFloatArray(), [3, 4, 5, 6])
        XCTAssertEqual(try store.tensor("c").toFloatArray(), [7, 8, 9])
        assertCheckpointError(try store.tensor("d"), .missingTensor(tensor: "d", location: dir.path),
                              mentions: ["'d'", dir.lastPathComponent])
    }

    func testMissingShard() throws {
        try writeShards()
        try writeIndex(["a": "model-00001-of-00002.safetensors", "z": "model-00003-of-00003.safetensors"])
        let index = dir.appendingPathComponent("model.safetensors.index.json").path
        assertCheckpointError(try WeightStore(directory: dir),
                              .missingShard(index: index, shard: "model-00003-of-00003.safetensors", tensor: "z"),
                              mentions: ["model-00003-of-00003.safetensors", "'z'"])
    }

    func testTensorListedButAbsentFromShard() throws {
        try writeShards()
        try writeIndex(["a": "model-00002-of-00002.safetensors"])
        let index = dir.appendingPathComponent("model.safetensors.index.json").path
        assertCheckpointError(try WeightStore(directory: dir),
                              .tensorNotInShard(index: index, shard: "model-00002-of-00002.safetensors", tensor: "a"),
                              mentions: ["model-00002-of-00002.safetensors", "'a'"])
    }

    func testInvalidIndex() throws {
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        try Data("{ weight_map: nope".utf8).write(to: index)
        XCTAssertThrowsError(try WeightStore(directory: dir)) { error in
            guard case let .invalidIndex(file, _)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, index.path)
        }
        try Data(#"{"weight_map": {"a": 3}}"#.utf8).write(to: index)
        assertCheckpointError(try WeightStore(directory: dir),
                              .invalidIndex(file: index.path, reason: "shard of 'a' is a number, not a string"),
                              mentions: ["model.safetensors.index.json", "'a'"])
        try Data(#"{"metadata": {}}"#.utf8).write(to: index)
        assertCheckpointError(try WeightStore(directory: dir),
                              .invalidIndex(file: index.path, reason: "missing 'weight_map' object"),
                              mentions: ["weight_map"])
    }

    // MARK: - Unsharded

    func testDuplicateTensorAcrossFiles() throws {
        try write("model-00001-of-00002.safetensors", [("a", Tensor([1], shape: [1]))])
        try write("model-00002-of-00002.safetensors", [("a", Tensor([2], shape: [1]))])
        let first = dir.appendingPathComponent("model-00001-of-00002.safetensors")
        let second = dir.appendingPathComponent("model-00002-of-00002.safetensors")
        assertCheckpointError(try WeightStore(directory: dir),
                              .duplicateTensor(tensor: "a", firstFile: first.path, secondFile: second.path),
                              mentions: ["'a'", "model-00001-of-00002", "model-00002-of-00002"])
        assertCheckpointError(try WeightStore(files: [second, first]),
                              .duplicateTensor(tensor: "a", firstFile: second.path, secondFile: first.path),
                              mentions: ["'a'"])
    }

    func testSingleFileIsPreferredOverLooseFiles() throws {
        try write("model.safetensors", [("m", Tensor([1], shape: [1]))])
        try write("other.safetensors", [("o", Tensor([2], shape: [1]))])
        XCTAssertEqual(try WeightStore(directory: dir).tensorNames, ["m"])
    }

    func testLooseFilesAreUnited() throws {
        try write("b.safetensors", [("from_b", Tensor([1], shape: [1]))])
        try write("a.safetensors", [("from_a", Tensor([2], shape: [1]))])
        let store = try WeightStore(directory: dir)
        XCTAssertEqual(store.files.map(\.url.lastPathComponent), ["a.safetensors", "b.safetensors"])
        XCTAssertEqual(store.tensorNames, ["from_a", "from_b"])
        XCTAssertEqual(store.metadata, ["format": "pt"])
    }

    func testEmptyDirectory() throws {
        assertCheckpointError(try WeightStore(directory: dir), .noWeightFiles(directory: dir.path),
                              mentions: [dir.lastPathComponent])
    }

    // MARK: - Strict loading

    func testLoaderChecksShapesAndReportsUnusedNames() throws {
        try writeShards()
        let loader = try WeightLoader(directory: dir)
        XCTAssertEqual(try loader.take("a", shape: [2]).toFloatArray(), [1, 2])
        assertCheckpointError(try loader.take("b", shape: [4]),
                              .shapeMismatch(tensor: "b", expected: [4], found: [2, 2], location: dir.path),
                              mentions: ["'b'", "[4]", "[2, 2]"])
        XCTAssertNil(try loader.takeIfPresent("bias", shape: [2]))
        XCTAssertEqual(loader.unusedNames(), ["b", "c"])
        assertCheckpointError(try loader.finish(), .unusedTensors(names: ["b", "c"], location: dir.path),
                              mentions: ["'b'", "'c'"])
        loader.skip { $0 == "c" }
        XCTAssertNotNil(try loader.takeIfPresent("b", shape: [2, 2]))
        XCTAssertEqual(loader.unusedNames(), [])
        XCTAssertNoThrow(try loader.finish())
        assertCheckpointError(try loader.take("q", shape: []), .missingTensor(tensor: "q", location: dir.path),
                              mentions: ["'q'"])
    }
}
