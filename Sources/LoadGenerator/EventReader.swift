import Foundation
import NIOCore

/// Reads server-sent events from a body that arrives in arbitrary pieces: each event's
/// `data:` lines, parsed as a JSON object, until `data: [DONE]`.
struct EventReader {
    private var pending: [UInt8] = []
    private(set) var sawDone = false

    /// The complete events in `buffer` and what came before it; an incomplete tail waits for the next piece.
    mutating func feed(_ buffer: ByteBuffer) -> [[String: Any]] {
        pending += buffer.readableBytesView.filter { $0 != UInt8(ascii: "\r") }
        var events: [[String: Any]] = []
        while let end = blankLine() {
            let block = String(decoding: pending[..<end], as: UTF8.self)
            pending.removeFirst(end + 2)
            let data = block.split(separator: "\n").filter { $0.hasPrefix("data:") }
                .map { $0.dropFirst(5).drop { $0 == " " } }.joined(separator: "\n")
            if data == "[DONE]" { sawDone = true; continue }
            if let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] { events.append(object) }
        }
        return events
    }

    /// Where the first "\n\n" starts.
    private func blankLine() -> Int? {
        guard pending.count >= 2 else { return nil }
        for i in 0..<(pending.count - 1) where pending[i] == 10 && pending[i + 1] == 10 { return i }
        return nil
    }
}
