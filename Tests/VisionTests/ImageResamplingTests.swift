import Foundation
import Tensor
import TestSupport
import Vision
import XCTest

/// `resize` against Pillow's `Image.resize` (dumps from scripts/fixtures/images.py).
final class ImageResamplingTests: XCTestCase {
    private func compare(_ key: String, source: String, filter: ResamplingFilter) throws -> ByteAgreement {
        let expected = try ImageReference.image(key)
        let input = try ImageReference.decoded(source)
        let out = resize(input, width: expected.width, height: expected.height, filter: filter)
        XCTAssertEqual([out.width, out.height], [expected.width, expected.height], key)
        let agreement = ByteAgreement(out.pixels, expected.pixels)
        print("\(key): \(agreement)")
        return agreement
    }

    func testBicubicEqualsPillow() throws {
        let keys = ImageReference.file.tensorNames.filter { $0.hasPrefix("resize/") }
        XCTAssertGreaterThanOrEqual(keys.count, 14)
        var total = 0, equal = 0
        for key in keys {
            let source = key.split(separator: "/")[1]
            let a = try compare(key, source: String(source), filter: .bicubic)
            XCTAssertLessThanOrEqual(a.maxDifference, 1, key)
            XCTAssertGreaterThanOrEqual(a.fraction, 0.999, key)
            total += a.count; equal += a.equal
        }
        print("bicubic agreement with Pillow: \(equal)/\(total)")
        XCTAssertEqual(equal, total, "the goal is exact agreement")
    }

    func testOtherFiltersEqualPillow() throws {
        let filters: [String: ResamplingFilter] = ["bilinear": .bilinear, "nearest": .nearest, "lanczos": .lanczos,
                                                   "box": .box, "hamming": .hamming]
        for (name, filter) in filters.sorted(by: { $0.key < $1.key }) {
            for size in ["17x11", "101x59"] {
                let a = try compare("resize_\(name)/rgb_37x23.png/\(size)", source: "rgb_37x23.png", filter: filter)
                XCTAssertEqual(a.equal, a.count, "\(name) \(size): \(a)")
            }
        }
    }

    func testSameSizeIsIdentity() throws {
        let image = try ImageReference.decode("rgb_37x23.png")
        XCTAssertEqual(resizeBicubic(image, width: 37, height: 23), image)
    }
}
