import Foundation
import Tensor

/// Strict loading: every tensor a model takes has its shape checked, and every tensor
/// in the checkpoint must be taken or explicitly skipped.
///
/// ```swift
/// let loader = try WeightLoader(directory: modelDir)
/// let wq = try loader.take("model.layers.0.self_attn.q_proj.weight", shape: [dim, dim])
/// loader.skip { $0.hasSuffix(".rotary_emb.inv_freq") }   // recomputed, never loaded
/// try loader.finish()                                      // throws on anything left over
/// ```
///
/// Not thread-safe: a loader belongs to the one function that builds a model.
public final class WeightLoader {
    public let store: WeightStore
    private var taken = Set<String>()
    private var skipped = Set<String>()

    public init(store: WeightStore) { self.store = store }

    public convenience init(directory: URL) throws { self.init(store: try WeightStore(directory: directory)) }

    /// The tensor `name`, which must exist and have exactly `shape`.
    public func take(_ name: String, shape: [Int]) throws -> Tensor {
        guard let info = store.info(name) else {
            throw CheckpointError.missingTensor(tensor: name, location: store.directory.path)
        }
        guard info.shape == shape else {
            throw CheckpointError.shapeMismatch(tensor: name, expected: shape, found: info.shape,
                                                location: store.directory.path)
        }
        let t = try store.tensor(name)
        taken.insert(name)
        return t
    }

    /// The tensor `name` with exactly `shape`, or nil if the checkpoint lacks it
    /// (optional biases, tied embeddings). A present tensor of another shape still throws.
    public func takeIfPresent(_ name: String, shape: [Int]) throws -> Tensor? {
        guard store.contains(name) else { return nil }
        return try take(name, shape: shape)
    }

    /// Marks tensors the model deliberately ignores; say why at the call site.
    public func skip(where predicate: (String) -> Bool) {
        for name in store.tensorNames where predicate(name) { skipped.insert(name) }
    }

    /// Marks one tensor as deliberately ignored.
    public func skip(_ name: String) { if store.contains(name) { skipped.insert(name) } }

    /// Names never taken nor skipped, sorted.
    public func unusedNames() -> [String] {
        store.tensorNames.filter { !taken.contains($0) && !skipped.contains($0) }
    }

    /// Throws ``CheckpointError/unusedTensors(names:location:)`` if any tensor was neither taken nor skipped.
    public func finish() throws {
        let unused = unusedNames()
        guard unused.isEmpty else {
            throw CheckpointError.unusedTensors(names: unused, location: store.directory.path)
        }
    }
}
