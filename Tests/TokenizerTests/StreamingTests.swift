import Tokenizer
import XCTest

final class StreamingTests: XCTestCase {
    /// Returns the chunk emitted after each id, then the `finish()` remainder.
    private func stream(_ ids: [Int], _ tokenizer: Tokenizer, skipSpecialTokens: Bool = true) -> (chunks: [String], rest: String) {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skipSpecialTokens)
        let chunks = ids.map { detokenizer.append($0) }
        return (chunks, detokenizer.finish())
    }

    private func check(_ ids: [Int], _ tokenizer: Tokenizer, skipSpecialTokens: Bool, _ label: String) {
        let full = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        let (chunks, rest) = stream(ids, tokenizer, skipSpecialTokens: skipSpecialTokens)
        XCTAssertEqual(chunks.joined() + rest, full, "\(label): ids \(ids), chunks \(chunks) + \(rest.debugDescription)")
        if !full.contains("\u{FFFD}") {
            XCTAssertFalse(chunks.contains { $0.contains("\u{FFFD}") }, "\(label): chunk with U+FFFD: \(chunks)")
        }
    }

    func testChunksConcatenateToDecodeOnCorpus() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for entry in try TokenizerFixtures.corpus(spelling).entries {
                check(entry.ids, tokenizer, skipSpecialTokens: true, "\(spelling) \(entry.text.debugDescription)")
                check(entry.ids, tokenizer, skipSpecialTokens: false, "\(spelling) \(entry.text.debugDescription)")
            }
        }
    }

    /// Each emitted prefix is a prefix of HF's decode of the ids seen so far.
    func testEmittedTextFollowsReferencePrefixDecodes() throws {
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for (index, reference) in try TokenizerFixtures.corpus(spelling).streaming.enumerated() {
                XCTAssertEqual(tokenizer.decode(reference.ids), reference.prefixDecodes.last)
                let (chunks, rest) = stream(reference.ids, tokenizer)
                var emitted = ""
                for (i, chunk) in chunks.enumerated() {
                    emitted += chunk
                    XCTAssertEqual(tokenizer.decode(Array(reference.ids[...i])), reference.prefixDecodes[i + 1])
                    XCTAssertTrue(reference.prefixDecodes[i + 1].unicodeScalars.starts(with: emitted.unicodeScalars),
                                  "\(spelling) stream \(index) step \(i): \(emitted.debugDescription)")
                }
                XCTAssertEqual(emitted + rest, reference.prefixDecodes.last, "\(spelling) stream \(index)")
            }
        }
    }

    func testSplitUTF8IsHeldBackUntilComplete() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("metaspace")
        let word = tokenizer.encode("red", addSpecialTokens: false)
        let bytes = ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"].compactMap(tokenizer.id(of:))
        let (chunks, rest) = stream(word + bytes, tokenizer)
        XCTAssertEqual(Array(chunks.suffix(4)), ["", "", "", ""], "the run might still continue")
        XCTAssertEqual(rest, "😀")
        let (closed, _) = stream(word + bytes + word, tokenizer)
        XCTAssertEqual(Array(closed.suffix(5)), ["", "", "", "", "😀 red"])
        let (cut, cutRest) = stream(word + bytes.prefix(2), tokenizer)
        XCTAssertEqual(cut.joined() + cutRest, "red\u{FFFD}\u{FFFD}", "an unfinished run ends as HF decodes it")
    }

    /// A complete character followed by a stray byte in the same run: HF turns the whole run into
    /// U+FFFD, so the character must not have been emitted early.
    func testRunEndingInvalidIsNotEmittedEarly() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("legacy")
        let word = tokenizer.encode("red", addSpecialTokens: false)
        let bytes = ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>", "<0xE2>"].compactMap(tokenizer.id(of:))
        for tail in [[], word] {
            let ids = word + bytes + tail
            let (chunks, rest) = stream(ids, tokenizer)
            XCTAssertEqual(chunks.joined() + rest, tokenizer.decode(ids))
            XCTAssertTrue(tokenizer.decode(ids).hasPrefix("red\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"))
        }
    }

    /// Random id sequences (with byte pieces, specials and unknown ids) still concatenate exactly.
    func testRandomSequencesConcatenate() throws {
        var generator = SplitMix64(seed: 7)
        for spelling in TokenizerFixtures.spellings {
            let tokenizer = try TokenizerFixtures.tokenizer(spelling)
            for _ in 0..<500 {
                // Half the ids are byte pieces (ids 3...258 here), so byte runs start and break often.
                let ids = (0..<Int.random(in: 1...20, using: &generator)).map { _ in
                    Bool.random(using: &generator) ? Int.random(in: 3...258, using: &generator)
                        : Int.random(in: 0..<(tokenizer.vocabularySize + 2), using: &generator)
                }
                check(ids, tokenizer, skipSpecialTokens: true, spelling)
                check(ids, tokenizer, skipSpecialTokens: false, spelling)
            }
        }
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
