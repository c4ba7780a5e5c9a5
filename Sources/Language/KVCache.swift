import Tensor

/// Keys and values of every layer for the positions seen so far.
///
/// Layout per layer: [capacity, G*E] rows, position-major, so one token's keys
/// are one contiguous row and attention reads a head as a strided matrix.
/// The cache grows (doubling, up to `maxCapacity`) when a forward needs more room.
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    public let rowLength: Int            // G*E
    public let maxCapacity: Int
    public private(set) var capacity: Int
    /// Positions filled; the next token goes at this position.
    public internal(set) var count = 0
    var keys: [[Float]]                  // (L)(capacity, G*E)
    var values: [[Float]]                // (L)(capacity, G*E)
    /// This sequence's scratch activations, so sequences can run side by side on one model.
    let scratch = LlamaRunState()

    public init(config: LlamaConfiguration, capacity: Int = 256, maxCapacity: Int? = nil) {
        layerCount = config.layerCount
        rowLength = config.kvHeadCount * config.headDim
        self.maxCapacity = maxCapacity ?? max(config.maxPositionEmbeddings, capacity)
        self.capacity = max(1, min(capacity, self.maxCapacity))
        keys = Array(repeating: [Float](repeating: 0, count: self.capacity * rowLength), count: layerCount)
        values = keys
    }

    /// Makes room for `needed` positions in total.
    func reserve(_ needed: Int) throws {
        guard needed > capacity else { return }
        guard needed <= maxCapacity else { throw ModelError.contextOverflow(needed: needed, capacity: maxCapacity) }
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        newCapacity = min(newCapacity, maxCapacity)
        let extra = (newCapacity - capacity) * rowLength
        for l in 0..<layerCount {
            keys[l].append(contentsOf: repeatElement(0, count: extra))
            values[l].append(contentsOf: repeatElement(0, count: extra))
        }
        capacity = newCapacity
    }

    /// Forgets positions from `position` on (a new turn rewinds, a reset empties).
    public func truncate(to position: Int) {
        count = max(0, min(count, position))
    }
}
