/// The incremental part of BPE training: pair counts, an index from each pair to the words
/// that hold it, and a max-heap of candidate pairs. A merge touches only the words that hold
/// its pair, so its cost is proportional to those words, not to the corpus.
///
/// Symbols are ints: 0..<alphabet are single scalars, later ones merged pieces; -1 marks a
/// scalar left out of the alphabet (it falls back to bytes at encode time and never pairs).
/// A pair (left, right) is packed as `left << 32 | right`.
struct MergeState {
    /// Piece id (in this state, i.e. after the reserved pieces) → its scalar values.
    private(set) var pieces: [[UInt32]] = []
    /// Merges in the order made, as (left, right) piece ids.
    private(set) var merges: [(Int, Int)] = []
    var pieceCount: Int { pieces.count }

    private var words: [[Int32]]
    private let counts: [Int]
    private let maxPieceLength: Int
    /// Every string already in the vocabulary: a merge that would repeat one is refused, so
    /// `vocab` keys stay distinct and no piece is made twice by two different pairs.
    private var existing: Set<[UInt32]>
    private var blocked: Set<UInt64> = []
    private var pairCounts: [UInt64: Int] = [:]
    /// Words that held the pair when it was last counted (may be stale: checked on use).
    private var pairWords: [UInt64: [Int32]] = [:]
    private var heap = BinaryHeap<(count: Int, pair: UInt64)>()
    /// Marks words already visited during one merge (the index may list a word twice).
    private var visited: [Int]
    private var visit = 0

    init(words: WordCounts, reserved: [String], alphabetCapacity: Int, maxPieceLength: Int) {
        self.maxPieceLength = maxPieceLength
        counts = words.counts
        existing = Set(reserved.map { $0.unicodeScalars.map(\.value) })
        visited = Array(repeating: 0, count: words.words.count)
        var symbol: [UInt32: Int32] = [:]
        for scalar in Self.alphabet(words) where pieces.count < alphabetCapacity && !existing.contains([scalar]) {
            symbol[scalar] = Int32(pieces.count)
            pieces.append([scalar])
            existing.insert([scalar])
        }
        self.words = words.words.map { word in word.map { symbol[$0] ?? -1 } }
        countAllPairs()
    }

    /// Scalars by falling count, then by scalar value.
    private static func alphabet(_ words: WordCounts) -> [UInt32] {
        var frequency: [UInt32: Int] = [:]
        for (word, count) in zip(words.words, words.counts) {
            for scalar in word { frequency[scalar, default: 0] += count }
        }
        return frequency.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
    }

    private mutating func countAllPairs() {
        for (w, word) in words.enumerated() {
            for (left, right) in zip(word, word.dropFirst()) {
                let key = Self.pack(left, right)
                guard isCountable(key) else { continue }
                pairCounts[key, default: 0] += counts[w]
                pairWords[key, default: []].append(Int32(w))
            }
        }
        for (pair, count) in pairCounts { push(count, pair) }
    }

    // MARK: - merging

    /// Merges the best pair everywhere. False when no pair is left.
    mutating func mergeBest() -> Bool {
        guard let key = popBest() else { return false }
        let (left, right) = Self.unpack(key)
        let merged = pieces[left] + pieces[right]
        if existing.contains(merged) {
            blocked.insert(key)
            return true
        }
        let id = Int32(pieces.count)
        pieces.append(merged)
        existing.insert(merged)
        merges.append((left, right))
        var delta: [UInt64: Int] = [:]
        visit += 1
        for w in pairWords.removeValue(forKey: key) ?? [] where visited[Int(w)] != visit {
            visited[Int(w)] = visit
            replace(Int32(left), Int32(right), by: id, inWord: Int(w), delta: &delta)
        }
        pairCounts[key] = nil
        for (pair, change) in delta where change != 0 {
            let count = pairCounts[pair, default: 0] + change
            pairCounts[pair] = count
            if count > 0 { push(count, pair) }
        }
        return true
    }

    /// Rewrites one word with (left, right) → id, left to right, and records the count changes.
    private mutating func replace(_ left: Int32, _ right: Int32, by id: Int32, inWord w: Int,
                                  delta: inout [UInt64: Int]) {
        let old = words[w]
        var new: [Int32] = []
        new.reserveCapacity(old.count)
        var i = 0
        while i < old.count {
            if i + 1 < old.count, old[i] == left, old[i + 1] == right {
                new.append(id)
                i += 2
            } else {
                new.append(old[i])
                i += 1
            }
        }
        guard new.count < old.count else { return }   // stale index entry
        let count = counts[w]
        for (a, b) in zip(old, old.dropFirst()) where isCountable(Self.pack(a, b)) {
            delta[Self.pack(a, b), default: 0] -= count
        }
        for (a, b) in zip(new, new.dropFirst()) where isCountable(Self.pack(a, b)) {
            delta[Self.pack(a, b), default: 0] += count
            if a == id || b == id { pairWords[Self.pack(a, b), default: []].append(Int32(w)) }
        }
        words[w] = new
    }

    private func isCountable(_ key: UInt64) -> Bool {
        let (left, right) = Self.unpack(key)
        return left >= 0 && right >= 0 && pieces[left].count + pieces[right].count <= maxPieceLength
            && !blocked.contains(key)
    }

    static func pack(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    static func unpack(_ key: UInt64) -> (Int, Int) {
        (Int(Int32(bitPattern: UInt32(truncatingIfNeeded: key >> 32))),
         Int(Int32(bitPattern: UInt32(truncatingIfNeeded: key))))
    }

    // MARK: - heap of candidate pairs

    /// The best pair whose heap entry still matches its count (older entries are skipped).
    private mutating func popBest() -> UInt64? {
        let pieces = self.pieces  // the order reads it while the heap changes
        while let top = heap.pop(by: { Self.precedes($0, $1, pieces) }) {
            if pairCounts[top.pair] == top.count, !blocked.contains(top.pair) { return top.pair }
        }
        return nil
    }

    private mutating func push(_ count: Int, _ pair: UInt64) {
        let pieces = self.pieces
        heap.push((count, pair), by: { Self.precedes($0, $1, pieces) })
    }

    /// Higher count first; then the smaller merged string; then the smaller left piece.
    /// Distinct pieces have distinct strings, so this is a total order on pairs.
    private static func precedes(_ a: (count: Int, pair: UInt64), _ b: (count: Int, pair: UInt64),
                                 _ pieces: [[UInt32]]) -> Bool {
        if a.count != b.count { return a.count > b.count }
        let (al, ar) = Self.unpack(a.pair), (bl, br) = Self.unpack(b.pair)
        switch Self.compare(pieces[al], pieces[ar], pieces[bl], pieces[br]) {
        case .less: return true
        case .greater: return false
        case .equal: return pieces[al].lexicographicallyPrecedes(pieces[bl])
        }
    }

    private enum Order { case less, equal, greater }

    /// Compares x1 + x2 with y1 + y2 by scalar value without building either (heap comparisons
    /// are the hot loop).
    private static func compare(_ x1: [UInt32], _ x2: [UInt32], _ y1: [UInt32], _ y2: [UInt32]) -> Order {
        let xCount = x1.count + x2.count, yCount = y1.count + y2.count
        for i in 0..<min(xCount, yCount) {
            let x = i < x1.count ? x1[i] : x2[i - x1.count]
            let y = i < y1.count ? y1[i] : y2[i - y1.count]
            if x != y { return x < y ? .less : .greater }
        }
        return xCount == yCount ? .equal : (xCount < yCount ? .less : .greater)
    }
}
