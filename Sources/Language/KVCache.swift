import Foundation
import Tensor

/// Keys and values of every layer for the positions seen so far.
///
/// Layout per layer: [capacity, G*E] rows, position-major, so one token's keys
/// are one contiguous row and attention reads a head as a strided matrix.
/// Rows are f32 or f16 (`elementType`): an f16 cache halves the bytes attention reads per
/// decoded token, as llama.cpp's default cache does; attention widens them exactly.
/// The cache grows (doubling, up to `maxCapacity`) when a forward needs more room.
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    public let rowLength: Int            // G*E
    public let maxCapacity: Int
    /// `.f32` or `.f16`.
    public let elementType: DType
    public private(set) var capacity: Int
    /// Positions filled; the next token goes at this position.
    public internal(set) var count = 0
    private(set) var keys: [UnsafeMutableRawPointer]     // (L)(capacity, G*E)
    private(set) var values: [UnsafeMutableRawPointer]   // (L)(capacity, G*E)
    /// This sequence's scratch activations, so sequences can run side by side on one model.
    let scratch = LlamaRunState()

    /// The row type every model's caches use from now on (`.f32` or `.f16`), in place of the
    /// model's own choice (`LlamaModel.cacheElementType`); nil restores that choice. Set once
    /// at start-up, like `Compute.setThreads`.
    nonisolated(unsafe) public static var elementTypeOverride: DType? {
        didSet { precondition(elementTypeOverride.map { $0 == .f32 || $0 == .f16 } ?? true, "a KV cache holds f32 or f16 rows") }
    }

    public init(config: LlamaConfiguration, capacity: Int = 256, maxCapacity: Int? = nil,
                elementType: DType = .f32) {
        precondition(elementType == .f32 || elementType == .f16, "a KV cache holds f32 or f16 rows")
        layerCount = config.layerCount
        rowLength = config.kvHeadCount * config.headDim
        self.elementType = elementType
        self.maxCapacity = maxCapacity ?? max(config.maxPositionEmbeddings, capacity)
        self.capacity = max(1, min(capacity, self.maxCapacity))
        let bytes = self.capacity * rowLength * elementType.size
        keys = (0..<layerCount).map { _ in KVCache.allocate(bytes) }
        values = (0..<layerCount).map { _ in KVCache.allocate(bytes) }
    }

    deinit {
        for p in keys + values { free(p) }
    }

    /// Zeroed memory (large blocks come from the kernel untouched, so unused capacity costs no RSS).
    private static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        guard let p = calloc(max(bytes, 1), 1) else { fatalError("KV cache: out of memory (\(bytes) bytes)") }
        return p
    }

    /// Makes room for `needed` positions in total.
    func reserve(_ needed: Int) throws {
        guard needed > capacity else { return }
        guard needed <= maxCapacity else { throw ModelError.contextOverflow(needed: needed, capacity: maxCapacity) }
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        newCapacity = min(newCapacity, maxCapacity)
        let old = capacity * rowLength * elementType.size, new = newCapacity * rowLength * elementType.size
        for l in 0..<layerCount {
            for (i, p) in [keys[l], values[l]].enumerated() {
                let grown = KVCache.allocate(new)
                grown.copyMemory(from: p, byteCount: old)
                free(p)
                if i == 0 { keys[l] = grown } else { values[l] = grown }
            }
        }
        capacity = newCapacity
    }

    /// Writes `rows` rows of keys and values (f32, [rows, G*E]) of layer `layer` at `position`.
    func store(layer: Int, position: Int, rows: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        let n = rows * rowLength, offset = position * rowLength * elementType.size
        convertFromFloat(k, count: n, to: elementType, into: keys[layer] + offset)
        convertFromFloat(v, count: n, to: elementType, into: values[layer] + offset)
    }

    /// Forgets positions from `position` on (a new turn rewinds, a reset empties).
    public func truncate(to position: Int) {
        count = max(0, min(count, position))
    }
}
