import Checkpoint
import Foundation
import TestSupport
import Vision
import XCTest

/// Reference dumps written by scripts/fixtures/images.py (Pillow 13, transformers 5).
enum ImageReference {
    static let stale = "(stale fixture? rerun: /opt/fixvenv/bin/python scripts/fixtures/images.py)"

    static let file: SafeTensorsFile = try! Fixtures.tensors("images/reference.safetensors")
    static let index: [String: Any] = try! JSONSerialization.jsonObject(
        with: Data(contentsOf: Fixtures.url("images/reference.json"))) as! [String: Any]

    static func url(_ name: String) -> URL { Fixtures.url("images/\(name)") }

    static func decode(_ name: String) throws -> RGBImage { try ImageDecoder.decode(contentsOf: url(name)) }

    /// A uint8 (H, W, 3) dump as an image.
    static func image(_ key: String) throws -> RGBImage {
        let t = try file.tensor(key)
        XCTAssertEqual(t.dtype, .u8, key)
        XCTAssertEqual(t.shape.count, 3, key)
        let bytes = Array(UnsafeBufferPointer(start: t.rawPointer.assumingMemoryBound(to: UInt8.self), count: t.count))
        return RGBImage(width: t.shape[1], height: t.shape[0], pixels: bytes)
    }

    /// Pillow's decode of `name`: raw in the dump, or a lossless PNG for the large photo.
    static func decoded(_ name: String) throws -> RGBImage {
        let entry = (index["decode"] as! [String: [String: Any]])[name]!
        if let png = entry["png"] as? String { return try decode(png) }
        return try image("decode/\(name)")
    }

    static var decodedNames: [String] { (index["decode"] as! [String: Any]).keys.sorted() }
}

/// How two equally sized byte arrays differ.
struct ByteAgreement: CustomStringConvertible {
    var count = 0, equal = 0, maxDifference = 0, firstDifference: Int? = nil

    init(_ a: [UInt8], _ b: [UInt8]) {
        precondition(a.count == b.count)
        count = a.count
        for i in a.indices {
            let d = abs(Int(a[i]) - Int(b[i]))
            if d == 0 { equal += 1 } else if firstDifference == nil { firstDifference = i }
            maxDifference = max(maxDifference, d)
        }
    }

    var fraction: Double { count == 0 ? 1 : Double(equal) / Double(count) }
    var description: String {
        String(format: "%d/%d equal (%.4f%%), max |Δ| %d", equal, count, 100 * fraction, maxDifference)
            + (firstDifference.map { ", first at byte \($0)" } ?? "")
    }
}
