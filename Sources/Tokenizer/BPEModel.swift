import Foundation

/// SentencePiece-style BPE over Unicode scalars, with byte fallback, as HF `tokenizers` runs it.
///
/// A word starts as one symbol per scalar (or its UTF-8 bytes as `<0xNN>` pieces when the scalar
/// is not in the vocabulary); then the adjacent pair with the lowest merge rank is merged, the
/// leftmost first on ties, until no pair has a merge. Symbols are ids in a linked list and the
/// candidate pairs sit in a min-heap, so a word of n scalars costs O(n log n), not O(n²).
struct BPEModel {
    /// id → piece for the model's own vocabulary (nil where an id is unused).
    let pieces: [String?]
    private let ids: [PieceKey: Int]
    private let scalarIDs: [Unicode.Scalar: Int]
    private let byteIDs: [Int?]
    /// (left id, right id) packed in 64 bits → (rank, merged id).
    private let merges: [UInt64: (rank: Int, id: Int)]
    let unknownID: Int?
    private let fuseUnknown: Bool
    private let byteFallback: Bool
    private let ignoreMerges: Bool

    init(_ spec: ModelSpec, file: String) throws {
        var pieces = [String?](repeating: nil, count: (spec.vocab.map(\.id).max() ?? -1) + 1)
        var ids: [PieceKey: Int] = [:]
        ids.reserveCapacity(spec.vocab.count)
        for (piece, id) in spec.vocab {
            guard id >= 0 else {
                throw TokenizerError.invalidValue(file: file, key: "model.vocab[\"\(piece)\"]", value: "\(id)",
                                                  expected: "an id >= 0")
            }
            // A piece written twice keeps its last id, as serde fills Rust's HashMap.
            if let old = ids.updateValue(id, forKey: PieceKey(piece)), old != id { pieces[old] = nil }
            pieces[id] = piece
        }
        self.pieces = pieces
        self.ids = ids
        scalarIDs = Self.singleScalarIDs(spec.vocab)
        byteIDs = (0..<256).map { ids[PieceKey(byteFallbackPiece(UInt8($0)))] }
        merges = try Self.mergeTable(spec.merges, ids: ids, file: file)
        if let unk = spec.unkToken {
            guard let id = ids[PieceKey(unk)] else {
                throw TokenizerError.invalidValue(file: file, key: "model.unk_token", value: "\"\(unk)\"",
                                                  expected: "a token of model.vocab")
            }
            unknownID = id
        } else {
            unknownID = nil
        }
        fuseUnknown = spec.fuseUnk
        byteFallback = spec.byteFallback
        ignoreMerges = spec.ignoreMerges
    }

    func id(of piece: String) -> Int? { ids[PieceKey(piece)] }

    // MARK: - tokenizing a word

    func tokenize(_ word: [Unicode.Scalar]) -> [Int] {
        if ignoreMerges, let id = ids[PieceKey(word.string)] { return [id] }
        var symbols = initialSymbols(word)
        guard symbols.count > 1 else { return symbols }
        merge(&symbols)
        return symbols
    }

    /// One id per scalar; unknown scalars become byte pieces, else `unk` (fused if asked).
    /// Like `tokenizers`, a pending `unk` is flushed only by an in-vocabulary scalar.
    private func initialSymbols(_ word: [Unicode.Scalar]) -> [Int] {
        var symbols: [Int] = []
        symbols.reserveCapacity(word.count)
        var pendingUnknown = false
        for scalar in word {
            if let id = scalarIDs[scalar] {
                if pendingUnknown, let unk = unknownID { symbols.append(unk) }
                pendingUnknown = false
                symbols.append(id)
            } else if byteFallback, let bytes = byteIDs(of: scalar) {
                symbols += bytes
            } else if let unk = unknownID {
                if pendingUnknown, !fuseUnknown { symbols.append(unk) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unk = unknownID { symbols.append(unk) }
        return symbols
    }

    private func byteIDs(of scalar: Unicode.Scalar) -> [Int]? {
        var out: [Int] = []
        for byte in String(scalar).utf8 {
            guard let id = byteIDs[Int(byte)] else { return nil }
            out.append(id)
        }
        return out
    }

    private func merge(_ symbols: inout [Int]) {
        let n = symbols.count
        var next = Array(1...n)          // n means "none"
        var previous = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        func push(_ position: Int) {
            let right = next[position]
            guard right < n, let merge = merges[pairKey(symbols[position], symbols[right])] else { return }
            heap.push(rank: merge.rank, position: position, id: merge.id)
        }
        for position in 0..<(n - 1) { push(position) }
        while let top = heap.pop() {
            let position = top.position, right = next[position]
            // Entries go stale when a neighbour merged first; the pair must still make top.id.
            guard alive[position], right < n,
                  merges[pairKey(symbols[position], symbols[right])]?.id == top.id else { continue }
            symbols[position] = top.id
            alive[right] = false
            next[position] = next[right]
            if next[right] < n { previous[next[right]] = position }
            if previous[position] >= 0 { push(previous[position]) }
            push(position)
        }
        symbols = (0..<n).compactMap { alive[$0] ? symbols[$0] : nil }
    }

    // MARK: - building the tables

    private static func singleScalarIDs(_ vocab: [(piece: String, id: Int)]) -> [Unicode.Scalar: Int] {
        var table: [Unicode.Scalar: Int] = [:]
        for (piece, id) in vocab {
            var scalars = piece.unicodeScalars.makeIterator()
            if let scalar = scalars.next(), scalars.next() == nil { table[scalar] = id }
        }
        return table
    }

    private static func mergeTable(_ entries: [MergeEntry], ids: [PieceKey: Int],
                                   file: String) throws -> [UInt64: (rank: Int, id: Int)] {
        var table: [UInt64: (rank: Int, id: Int)] = [:]
        table.reserveCapacity(entries.count)
        for (rank, entry) in entries.enumerated() {
            guard case .pair(let left, let right) = entry else {
                if case .bad(let text) = entry { throw TokenizerError.badMergeEntry(file: file, index: rank, entry: text) }
                continue
            }
            func lookup(_ piece: String) throws -> Int {
                guard let id = ids[PieceKey(piece)] else {
                    throw TokenizerError.unknownTokenInMerge(file: file, index: rank, token: piece)
                }
                return id
            }
            let key = pairKey(try lookup(left), try lookup(right))
            table[key] = (rank, try lookup(left + right))   // a repeated pair keeps its last rank, as in Rust
        }
        return table
    }
}

/// "<0x0A>": the piece that stands for one byte under byte fallback.
func byteFallbackPiece(_ byte: UInt8) -> String {
    let hex = String(byte, radix: 16, uppercase: true)
    return "<0x" + (hex.count == 1 ? "0" : "") + hex + ">"
}

private func pairKey(_ left: Int, _ right: Int) -> UInt64 {
    UInt64(UInt32(truncatingIfNeeded: left)) << 32 | UInt64(UInt32(truncatingIfNeeded: right))
}

/// A dictionary key compared byte for byte: Swift's `String ==` treats canonically equivalent
/// spellings ("é" and "e\u{301}") as equal, but they are different tokens. Native strings keep
/// contiguous UTF-8, so hashing and comparing read that buffer directly.
struct PieceKey: Hashable {
    let text: String

    init(_ text: String) {
        var text = text
        text.makeContiguousUTF8()
        self.text = text
    }

    static func == (a: PieceKey, b: PieceKey) -> Bool {
        a.text.utf8.count == b.text.utf8.count && a.text.utf8.elementsEqual(b.text.utf8)
    }

    func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Merge candidates, lowest (rank, position) first.
private struct MergeHeap {
    struct Entry { let rank: Int; let position: Int; let id: Int }
    private var heap = BinaryHeap<Entry>()

    private static func less(_ a: Entry, _ b: Entry) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.position < b.position
    }

    mutating func push(rank: Int, position: Int, id: Int) {
        heap.push(Entry(rank: rank, position: position, id: id), by: Self.less)
    }

    mutating func pop() -> Entry? { heap.pop(by: Self.less) }
}
