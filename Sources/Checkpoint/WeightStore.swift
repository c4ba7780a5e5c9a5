import Foundation
import Tensor

/// All the weights of a model directory, in one safetensors file or many.
///
/// `init(directory:)` looks, in order, for
/// 1. `model.safetensors.index.json` — a sharded checkpoint; its `weight_map` says which shard holds each tensor;
/// 2. `model.safetensors`;
/// 3. every `*.safetensors` in the directory (sorted), e.g. a LLaVA `mm_projector.safetensors`.
///
/// Every file is mapped and its header validated at open, so a broken checkpoint fails
/// before any model is built. A name in two files is an error.
///
/// ```swift
/// let store = try WeightStore(directory: URL(fileURLWithPath: "llava-1.5-7b-hf"))
/// let embed = try store.tensor("language_model.model.embed_tokens.weight")  // [vocab, dim] f16
/// ```
public final class WeightStore: @unchecked Sendable {
    public static let indexFileName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"

    /// The directory the weights came from (for files, the first file's directory).
    public let directory: URL
    /// The opened files, in the order they were found.
    public let files: [SafeTensorsFile]
    /// The index's `metadata` (scalars as text, e.g. `total_size`); for unsharded stores, the
    /// union of the files' `__metadata__`.
    public let metadata: [String: String]
    private let owner: [String: SafeTensorsFile]

    public init(directory: URL) throws {
        let fm = FileManager.default
        let index = directory.appendingPathComponent(Self.indexFileName)
        let single = directory.appendingPathComponent(Self.singleFileName)
        self.directory = directory
        if fm.fileExists(atPath: index.path) {
            (files, owner, metadata) = try Self.openIndex(index, directory: directory)
            return
        }
        let urls: [URL]
        if fm.fileExists(atPath: single.path) {
            urls = [single]
        } else {
            let listing: [String]
            do { listing = try fm.contentsOfDirectory(atPath: directory.path) } catch {
                throw CheckpointError.io(file: directory.path, operation: "list directory", errno: ENOENT)
            }
            urls = listing.filter { $0.hasSuffix(".safetensors") }.sorted()
                .map { directory.appendingPathComponent($0) }
        }
        guard !urls.isEmpty else { throw CheckpointError.noWeightFiles(directory: directory.path) }
        (files, owner, metadata) = try Self.openFiles(urls)
    }

    /// A store over exactly these files; a tensor name in two of them is an error.
    public init(files urls: [URL]) throws {
        guard let first = urls.first else { throw CheckpointError.noWeightFiles(directory: "(no files)") }
        directory = first.deletingLastPathComponent()
        (files, owner, metadata) = try Self.openFiles(urls)
    }

    /// Every tensor name, sorted.
    public var tensorNames: [String] { owner.keys.sorted() }

    public func contains(_ name: String) -> Bool { owner[name] != nil }

    public func info(_ name: String) -> TensorInfo? { owner[name]?.info(name) }

    /// The tensor `name` (a view into its file's mapping).
    public func tensor(_ name: String) throws -> Tensor {
        guard let file = owner[name] else {
            throw CheckpointError.missingTensor(tensor: name, location: directory.path)
        }
        return try file.tensor(name)
    }

    // MARK: - Opening

    private typealias Opened = ([SafeTensorsFile], [String: SafeTensorsFile], [String: String])

    private static func openFiles(_ urls: [URL]) throws -> Opened {
        var files: [SafeTensorsFile] = []
        var owner: [String: SafeTensorsFile] = [:]
        var metadata: [String: String] = [:]
        for url in urls {
            let file = try SafeTensorsFile(url: url)
            for name in file.tensorNames {
                if let other = owner[name] {
                    throw CheckpointError.duplicateTensor(tensor: name, firstFile: other.url.path, secondFile: url.path)
                }
                owner[name] = file
            }
            metadata.merge(file.metadata) { first, _ in first }
            files.append(file)
        }
        return (files, owner, metadata)
    }

    /// Opens every shard the index names and checks each holds the tensors listed for it.
    private static func openIndex(_ index: URL, directory: URL) throws -> Opened {
        let (weightMap, metadata) = try readIndex(index)
        var shards: [String: SafeTensorsFile] = [:]
        var files: [SafeTensorsFile] = []
        var owner: [String: SafeTensorsFile] = [:]
        for name in weightMap.keys.sorted() {
            let shardName = weightMap[name]!
            if shards[shardName] == nil {
                let url = directory.appendingPathComponent(shardName)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw CheckpointError.missingShard(index: index.path, shard: shardName, tensor: name)
                }
                let file = try SafeTensorsFile(url: url)
                shards[shardName] = file
                files.append(file)
            }
            let shard = shards[shardName]!
            guard shard.info(name) != nil else {
                throw CheckpointError.tensorNotInShard(index: index.path, shard: shardName, tensor: name)
            }
            owner[name] = shard
        }
        return (files, owner, metadata)
    }

    /// `weight_map` (tensor → shard file name) and `metadata` of an index file.
    static func readIndex(_ index: URL) throws -> (weightMap: [String: String], metadata: [String: String]) {
        func bad(_ reason: String) -> CheckpointError { .invalidIndex(file: index.path, reason: reason) }
        let mapped = try mapFile(index)
        let data = Data(bytes: mapped.base, count: mapped.byteCount)
        let root: [String: JSONValue]
        switch JSONValue.parse(data) {
        case .failure(let f): throw bad(f.reason)
        case .success(.object(let o)): root = o
        case .success(let other): throw bad("expected a JSON object, found \(other.kind)")
        }
        guard case let .object(map)? = root["weight_map"] else { throw bad("missing 'weight_map' object") }
        var weightMap: [String: String] = [:]
        for (name, value) in map {
            guard case let .string(shard) = value else { throw bad("shard of '\(name)' is \(value.kind), not a string") }
            guard !shard.contains("/"), shard != "..", !shard.isEmpty else { throw bad("shard of '\(name)' is '\(shard)', not a file name") }
            weightMap[name] = shard
        }
        var metadata: [String: String] = [:]
        if case let .object(m)? = root["metadata"] {
            for (k, v) in m { if let text = v.scalarText { metadata[k] = text } }
        }
        return (weightMap, metadata)
    }
}
