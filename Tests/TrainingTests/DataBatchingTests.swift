import Foundation
import Tensor
@testable import Training
import XCTest

final class DataBatchingTests: XCTestCase {
    /// 23 samples, 11 with images, lengths 1…23 in a scrambled order.
    private let lengths = (0..<23).map { ($0 * 7) % 23 + 1 }
    private let multimodal = (0..<23).map { $0 % 5 == 1 || $0 % 3 == 0 }

    private func sampler(batch: Int = 4, seed: UInt64 = 7, grouped: Bool = true, dropLast: Bool = false) -> BatchSampler {
        BatchSampler(lengths: lengths, isMultimodal: multimodal, batchSize: batch, seed: seed,
                     groupByModality: grouped, dropLast: dropLast)
    }

    private func take(_ s: inout BatchSampler, _ n: Int) -> [[Int]] { (0..<n).map { _ in s.nextBatch() } }

    func testEveryIndexOncePerEpoch() {
        for grouped in [true, false] {
            for batch in [1, 4, 5, 23, 30] {
                var s = sampler(batch: batch, grouped: grouped)
                for epoch in 0..<3 {
                    XCTAssertEqual(s.epoch, epoch)
                    let batches = take(&s, s.stepsPerEpoch)
                    XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<23), "grouped \(grouped) batch \(batch) epoch \(epoch)")
                    XCTAssertTrue(batches.allSatisfy { !$0.isEmpty && $0.count <= batch })
                }
                XCTAssertEqual(s.epoch, 3)
            }
        }
    }

    func testModalityGroupingNeverMixes() {
        for seed: UInt64 in 0..<20 {
            var s = sampler(batch: 4, seed: seed)
            for batch in take(&s, 3 * s.stepsPerEpoch) {
                XCTAssertEqual(Set(batch.map { multimodal[$0] }).count, 1, "mixed batch \(batch) (seed \(seed))")
                let l = batch.map { lengths[$0] }
                XCTAssertEqual(l, l.sorted(by: >), "each batch is ordered longest first")
            }
        }
        // 11 image samples → 3 batches of ≤4, 12 text samples → 3 batches.
        XCTAssertEqual(sampler(batch: 4).stepsPerEpoch, 6)
        XCTAssertEqual(sampler(batch: 4, dropLast: true).stepsPerEpoch, 5)
    }

    func testDropLastKeepsOnlyFullBatches() {
        for grouped in [true, false] {
            var s = sampler(batch: 4, grouped: grouped, dropLast: true)
            XCTAssertEqual(s.stepsPerEpoch, grouped ? 5 : 5)
            let batches = take(&s, 2 * s.stepsPerEpoch)
            XCTAssertTrue(batches.allSatisfy { $0.count == 4 })
            XCTAssertEqual(Set(batches.prefix(5).flatMap { $0 }).count, 20)
        }
        XCTAssertEqual(sampler(batch: 4, grouped: false).stepsPerEpoch, 6)
    }

    func testSeededDeterminismAndReshuffledEpochs() {
        var a = sampler(), b = sampler(), c = sampler(seed: 8)
        let runA = take(&a, 21), runB = take(&b, 21), runC = take(&c, 21)
        XCTAssertEqual(runA, runB)
        XCTAssertNotEqual(runA, runC)
        XCTAssertNotEqual(Array(runA[0..<6]), Array(runA[6..<12]), "each epoch reshuffled")
        // Pinned: the order must not change across machines or Swift versions.
        XCTAssertEqual(sampler().batches(forEpoch: 0), sampler().batches(forEpoch: 0))
        var rng = SplitMix64(seed: 1)
        XCTAssertEqual(BatchSampler.shuffled(Array(0..<10), &rng), Self.pinnedShuffle)
    }

    /// Fisher–Yates over SplitMix64(seed: 1), fixed once; a change here changes every run's data order.
    static let pinnedShuffle = [4, 2, 8, 1, 9, 3, 0, 6, 7, 5]

    func testResumeFromEncodedStateGivesTheSameBatches() throws {
        for grouped in [true, false] {
            var original = sampler(grouped: grouped)
            _ = take(&original, 10)                          // mid-way through epoch 1
            let saved = try JSONEncoder().encode(original)
            let future = take(&original, 12)
            var resumed = try JSONDecoder().decode(BatchSampler.self, from: saved)
            XCTAssertEqual(resumed.epoch, 1)
            XCTAssertEqual(take(&resumed, 12), future)

            // The small state alone, applied to a sampler over the same data.
            var fresh = sampler(grouped: grouped)
            var again = sampler(grouped: grouped)
            _ = take(&again, 10)
            let state = try JSONDecoder().decode(BatchSampler.State.self, from: JSONEncoder().encode(again.state))
            try fresh.restore(state)
            XCTAssertEqual(take(&fresh, 12), future)
        }
    }

    /// The state names the sampler's shape (so a resume can refuse another), and a state saved
    /// before it did (seed, epoch and position only) still decodes and applies.
    func testStateKeepsTheSamplersShapeAndReadsOlderStates() throws {
        var s = BatchSampler(lengths: lengths, isMultimodal: [Bool](repeating: false, count: 23), batchSize: 5, seed: 3,
                             groupByModality: false, lengthGroup: 2)
        _ = take(&s, 7)
        XCTAssertEqual(s.state, BatchSampler.State(seed: 3, epoch: 1, position: 2, batchSize: 5, lengthGroup: 2, stepsPerEpoch: 5))
        let old = try JSONDecoder().decode(BatchSampler.State.self, from: Data(#"{"seed":3,"epoch":1,"position":2}"#.utf8))
        XCTAssertNil(old.batchSize)
        XCTAssertNil(old.lengthGroup)
        XCTAssertNil(old.stepsPerEpoch)
        var fresh = BatchSampler(lengths: lengths, isMultimodal: [Bool](repeating: false, count: 23), batchSize: 5, seed: 3,
                                 groupByModality: false, lengthGroup: 2)
        try fresh.restore(old)
        XCTAssertEqual(take(&fresh, 4), take(&s, 4))

        // A state of another shape is refused, each difference by name, and leaves the sampler as it was.
        var other = BatchSampler(lengths: lengths, isMultimodal: [Bool](repeating: false, count: 23), batchSize: 4, seed: 3,
                                 groupByModality: false, lengthGroup: 2)
        let before = other.state
        XCTAssertThrowsError(try other.restore(s.state)) { XCTAssertEqual($0 as? BatchSampler.StateMismatch, .batchSize(saved: 5, current: 4)) }
        var ungrouped = BatchSampler(lengths: lengths, isMultimodal: [Bool](repeating: false, count: 23), batchSize: 5, seed: 3,
                                     groupByModality: false)
        XCTAssertThrowsError(try ungrouped.restore(s.state)) { XCTAssertEqual($0 as? BatchSampler.StateMismatch, .lengthGroup(saved: 2, current: 1)) }
        var fewer = BatchSampler(lengths: Array(lengths.prefix(15)), isMultimodal: [Bool](repeating: false, count: 15), batchSize: 5, seed: 3,
                                 groupByModality: false, lengthGroup: 2)
        XCTAssertThrowsError(try fewer.restore(s.state)) { XCTAssertEqual($0 as? BatchSampler.StateMismatch, .stepsPerEpoch(saved: 5, current: 3)) }
        let past = BatchSampler.State(seed: 3, epoch: 1, position: 4)
        XCTAssertThrowsError(try fewer.restore(past)) { XCTAssertEqual($0 as? BatchSampler.StateMismatch, .position(epoch: 1, position: 4, stepsPerEpoch: 3)) }
        XCTAssertEqual(other.state, before)
    }

    func testSingleModalityStillLengthGrouped() {
        var s = BatchSampler(lengths: lengths, isMultimodal: [Bool](repeating: false, count: 23), batchSize: 5, seed: 3,
                             groupByModality: true)
        let batches = take(&s, s.stepsPerEpoch)
        XCTAssertEqual(batches.map(\.count), [5, 5, 5, 5, 3])
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<23))
    }

    func testLengthGroupingSortsWithinGroupsAndShufflesTheBatches() throws {
        // Lengths are 1…23, one each. With groups of 2 batches of 4, every batch holds samples
        // of one sorted group of 8, so its lengths are close; all 23 once per epoch.
        for grouped in [false, true] {
            var s = BatchSampler(lengths: lengths, isMultimodal: multimodal, batchSize: 4, seed: 5,
                                 groupByModality: grouped, lengthGroup: 2)
            for _ in 0..<3 {
                let batches = take(&s, s.stepsPerEpoch)
                XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<23))
                for batch in batches {
                    let l = batch.map { lengths[$0] }
                    XCTAssertEqual(l, l.sorted(by: >), "longest first")
                }
            }
        }
        // One group holding everything: the batches are the sorted lengths cut in fours, in a
        // shuffled order, the short one (3 samples) last; each epoch shuffles them anew.
        var all = BatchSampler(lengths: lengths, isMultimodal: multimodal, batchSize: 4, seed: 5,
                               groupByModality: false, lengthGroup: 6)
        let sortedCuts = stride(from: 23, to: 0, by: -4).map { top in Array(stride(from: top, to: max(top - 4, 0), by: -1)) }
        let epoch0 = take(&all, all.stepsPerEpoch), epoch1 = take(&all, all.stepsPerEpoch)
        for epoch in [epoch0, epoch1] {
            let l = epoch.map { $0.map { lengths[$0] } }
            XCTAssertEqual(Set(l), Set(sortedCuts))
            XCTAssertEqual(l.last, [3, 2, 1])
        }
        XCTAssertNotEqual(epoch0, epoch1)
        XCTAssertNotEqual(epoch0.map { $0.map { lengths[$0] } }, sortedCuts, "the batches are shuffled")
        // A length group of 1 is no grouping at all; the setting survives encoding.
        XCTAssertEqual(BatchSampler(lengths: lengths, isMultimodal: multimodal, batchSize: 4, seed: 7, groupByModality: true,
                                    lengthGroup: 1).batches(forEpoch: 2), sampler().batches(forEpoch: 2))
        let decoded = try JSONDecoder().decode(BatchSampler.self, from: JSONEncoder().encode(all))
        XCTAssertEqual(decoded, all)
        XCTAssertEqual(decoded.lengthGroup, 6)
    }

    func testUniformDrawIsInRange() {
        var rng = SplitMix64(seed: 9)
        var seen = Set<UInt64>()
        for _ in 0..<1000 { seen.insert(BatchSampler.uniformBelow(6, &rng)) }
        XCTAssertEqual(seen, Set(0..<6))
    }

    func testCollationPadsToTheLongest() {
        let a = TrainingSample(id: "a", inputIDs: [1, -200, 5, 6], labels: [-100, -100, 5, 6], imagePath: "a.png")
        let b = TrainingSample(id: "b", inputIDs: [1, 9], labels: [-100, 9], imagePath: nil)
        let batch = DataBatch(samples: [a, b], padID: 0)
        XCTAssertEqual(batch.batchSize, 2)
        XCTAssertEqual(batch.length, 4)
        XCTAssertEqual(batch.inputIDs, [1, -200, 5, 6, 1, 9, 0, 0])
        XCTAssertEqual(batch.labels, [-100, -100, 5, 6, -100, 9, -100, -100])
        XCTAssertEqual(batch.attentionLengths, [4, 2])
        XCTAssertEqual(batch.imagePaths, ["a.png", nil])
        XCTAssertEqual(batch.sampleIDs, ["a", "b"])
        let cut = DataBatch(samples: [a, b], padID: 0, maxLength: 3)
        XCTAssertEqual(cut.inputIDs, [1, -200, 5, 1, 9, 0])
        XCTAssertEqual(cut.attentionLengths, [3, 2])
    }
}
