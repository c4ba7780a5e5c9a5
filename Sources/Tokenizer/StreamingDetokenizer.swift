import Foundation

/// Turns ids into text one id at a time, for streaming generation.
///
/// Each `append` returns only text that is final: never half a UTF-8 character, and never text
/// a later id could change — so the text of a run of `<0xNN>` byte pieces comes out with the
/// first id after the run (or with `finish()`), because `decode` turns a whole run into U+FFFD
/// when any byte of it is invalid. All the
/// returned pieces followed by `finish()` equal `tokenizer.decode(allIDs)`.
///
/// ```swift
/// var stream = StreamingDetokenizer(tokenizer: tokenizer)
/// for id in generatedIDs { print(stream.append(id), terminator: "") }
/// print(stream.finish())
/// ```
///
/// Like `tokenizers`' `DecodeStream`, it decodes a short window: the ids of the last emitted
/// chunk (`prefixStart..<readStart`) plus the ids after it, and emits what the new ids added.
/// Decoding the window from its own start keeps the cost per id constant; the leading-space
/// strip of the decoder then applies to both decodes alike, so it cancels out — except at the
/// very start of the stream, where it is wanted.
public struct StreamingDetokenizer {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    private var ids: [Int] = []
    private var prefixStart = 0
    private var readStart = 0

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the text it completed, possibly "".
    public mutating func append(_ id: Int) -> String {
        ids.append(id)
        // A byte run decodes all-or-nothing: one more invalid byte would turn the whole run,
        // even a character already complete, into U+FFFD. So a run is held until it ends.
        if endsInByteRun { return "" }
        let (prefix, full) = decodeWindow()
        guard full.unicodeScalars.count > prefix.unicodeScalars.count, full.unicodeScalars.last != "\u{FFFD}",
              full.unicodeScalars.starts(with: prefix.unicodeScalars) else { return "" }
        return advance(prefix: prefix, full: full)
    }

    /// Whatever is still held back (an unfinished byte run decodes to U+FFFD, as in `decode`).
    public mutating func finish() -> String {
        let (prefix, full) = decodeWindow()
        guard full.unicodeScalars.starts(with: prefix.unicodeScalars) else { return full }
        return advance(prefix: prefix, full: full)
    }

    /// Whether the last piece `decode` will see is a `<0xNN>` of a `ByteFallback` decoder; ids
    /// it drops (unknown ids, skipped specials) do not end a run. (A byte-level decoder needs no
    /// such rule: its pieces are bytes that decode lossily but locally, and an unfinished
    /// character shows as a trailing U+FFFD, which `append` holds back.)
    private var endsInByteRun: Bool {
        guard tokenizer.decoder?.hasByteFallback == true else { return false }
        for id in ids.reversed() where !(skipSpecialTokens && tokenizer.isSpecial(id)) {
            guard let piece = tokenizer.token(of: id) else { continue }
            return fallbackByte(piece) != nil
        }
        return false
    }

    private func decodeWindow() -> (prefix: String, full: String) {
        let prefix = tokenizer.decode(Array(ids[prefixStart..<readStart]), skipSpecialTokens: skipSpecialTokens)
        let full = tokenizer.decode(Array(ids[prefixStart...]), skipSpecialTokens: skipSpecialTokens)
        return (prefix, full)
    }

    private mutating func advance(prefix: String, full: String) -> String {
        let added = String(full.unicodeScalars.dropFirst(prefix.unicodeScalars.count))
        // The window restarts at the chunk just emitted, so the next decode sees its context.
        prefixStart = readStart
        readStart = ids.count
        ids.removeFirst(prefixStart)
        readStart -= prefixStart
        prefixStart = 0
        return added
    }
}
