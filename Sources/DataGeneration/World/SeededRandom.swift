import Tensor

// Sampling helpers on SplitMix64 written out by hand: the standard library's `random(in:using:)`
// and `shuffled(using:)` may change between Swift releases, and the data set must not.
extension SplitMix64 {
    /// Uniform in 0..<n (the modulo bias is below 2^-50 for the small n used here).
    mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "below(\(n))")
        return Int(next() % UInt64(n))
    }

    /// Uniform in the closed range.
    mutating func int(in range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * nextUnit() }

    mutating func chance(_ p: Double) -> Bool { nextUnit() < p }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Fisher–Yates.
    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, below(i + 1)) }
    }
}

/// Independent streams from one base seed: `derive(seed, 1, 42)` for the 42nd image of split 1.
func deriveSeed(_ base: UInt64, _ parts: UInt64...) -> UInt64 {
    var rng = SplitMix64(seed: base)
    var value = rng.next()
    for p in parts {
        rng = SplitMix64(seed: value ^ (p &* 0x9E37_79B9_7F4A_7C15))
        value = rng.next()
    }
    return value
}

/// FNV-1a over UTF-8: a stable hash of text (Swift's `hashValue` is randomised per process).
func stableHash(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}
