import Foundation
import TestSupport
@testable import Vision
import XCTest

/// Decoded pixels against Pillow's `Image.open(p).convert("RGB")`, and every refusal path.
final class ImageDecodingTests: XCTestCase {
    func testEveryPNGEqualsPillowExactly() throws {
        let names = ImageReference.decodedNames.filter { $0.hasSuffix(".png") }
        XCTAssertGreaterThanOrEqual(names.count, 14)
        for name in names {
            let image = try ImageReference.decode(name)
            let expected = try ImageReference.decoded(name)
            XCTAssertEqual([image.width, image.height], [expected.width, expected.height], name)
            let agreement = ByteAgreement(image.pixels, expected.pixels)
            XCTAssertEqual(agreement.equal, agreement.count, "\(name): \(agreement) \(ImageReference.stale)")
        }
    }

    func testJPEGsEqualPillow() throws {
        let names = ImageReference.decodedNames.filter { $0.hasSuffix(".jpg") }
        XCTAssertEqual(names, ["gray.jpg", "photo_444_50x30.jpg", "photo_500x333.jpg", "progressive_120x80.jpg"])
        for name in names {
            let image = try ImageReference.decode(name)
            let expected = try ImageReference.decoded(name)
            XCTAssertEqual([image.width, image.height], [expected.width, expected.height], name)
            let agreement = ByteAgreement(image.pixels, expected.pixels)
            print("JPEG \(name): \(agreement)")
            XCTAssertEqual(agreement.equal, agreement.count, "\(name): \(agreement)")
        }
    }

    /// The modes whose conversion has a rule worth pinning down by hand, beside the dumps.
    func testPillowConversionRules() throws {
        // 16-bit gray is Pillow's "I;16": RGB clamps the value (0, 255, 256, 65535 → 0, 255, 255, 255).
        let gray16 = try ImageReference.decode("gray16.png")
        XCTAssertEqual((0..<4).map { gray16[$0, 0].0 }, [0, 255, 255, 255])
        // Gray replicates into R = G = B; alpha is dropped, not composited (values stay dark
        // where alpha is 0, rather than turning to a background colour).
        let gray = try ImageReference.decode("gray_alpha.png")
        let p = gray.pixels
        let replicated = stride(from: 0, to: p.count, by: 3).allSatisfy { (i: Int) -> Bool in
            p[i] == p[i + 1] && p[i] == p[i + 2]
        }
        XCTAssertTrue(replicated)
        let oneBit = try ImageReference.decode("gray_1bit.png")
        XCTAssertTrue(oneBit.pixels.allSatisfy { $0 == 0 || $0 == 255 })
    }

    func testFormatComesFromBytesNotExtension() throws {
        let jpeg = try Data(contentsOf: ImageReference.url("gray.jpg"))
        let image = try ImageDecoder.decode(data: jpeg, source: "misnamed.png")
        XCTAssertEqual(image, try ImageReference.decoded("gray.jpg"))
    }

    // MARK: - refusals

    private func expectError(_ name: String, options: ImageDecodingOptions = .init(),
                             file: StaticString = #filePath, line: UInt = #line,
                             _ check: (ImageError) -> Bool) {
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: ImageReference.url(name), options: options),
                             file: file, line: line) { error in
            guard let error = error as? ImageError else { return XCTFail("\(name): \(error)", file: file, line: line) }
            XCTAssertTrue(check(error), "\(name): unexpected \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(name), "\(error.description) does not name \(name)", file: file, line: line)
            print("\(name) → \(error)")
        }
    }

    func testBrokenFilesGiveTypedErrorsNamingTheFile() {
        expectError("no_such_file.png") { if case .fileNotFound = $0 { return true }; return false }
        expectError("empty.png") { if case .emptyFile = $0 { return true }; return false }
        expectError("text.png") { if case .unsupportedFormat(_, let found) = $0 { return found.contains("text") }; return false }
        expectError("gif.png") { if case .unsupportedFormat(_, let found) = $0 { return found.contains("GIF") }; return false }
        expectError("truncated.png") { if case .corrupt(_, "PNG", let m) = $0 { return !m.isEmpty }; return false }
        expectError("truncated.jpg") { if case .corrupt(_, "JPEG", let m) = $0 { return !m.isEmpty }; return false }
        expectError("cmyk.jpg") { if case .unsupportedMode(_, "JPEG", let mode) = $0 { return mode.contains("CMYK") }; return false }
    }

    func testAbsurdDeclaredSizeIsRefusedFromTheHeader() {
        // IHDR says 100000 x 100000 (valid CRC) and garbage follows: the size check comes first.
        expectError("huge_header.png") {
            $0 == .tooLarge(file: ImageReference.url("huge_header.png").path, width: 100_000, height: 100_000, maxPixels: 64_000_000)
        }
        // A tiny limit refuses a real image the same way, before any pixel buffer exists.
        expectError("photo_500x333.jpg", options: ImageDecodingOptions(maxPixels: 1000)) {
            if case .tooLarge(_, 500, 333, 1000) = $0 { return true }; return false
        }
    }

    func testZeroWidthHeaderIsInvalidDimensions() throws {
        var png = try Data(contentsOf: ImageReference.url("rgb_37x23.png"))
        png.replaceSubrange(16..<20, with: [0, 0, 0, 0])  // IHDR width := 0
        let crc = crc32(png[12..<29])
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        XCTAssertThrowsError(try ImageDecoder.decode(data: png, source: "zero.png")) { error in
            XCTAssertEqual(error as? ImageError, .invalidDimensions(file: "zero.png", width: 0, height: 23))
        }
    }

    func testSniffing() {
        XCTAssertEqual(ImageFormat(sniffing: Data([0xFF, 0xD8, 0xFF, 0xE0])), .jpeg)
        XCTAssertEqual(ImageFormat(sniffing: Data("RIFF1234WEBPVP8 ".utf8)), .other("a WebP image"))
        XCTAssertEqual(ImageFormat(sniffing: Data([0, 1, 2, 3])), .other("unrecognised bytes 00 01 02 03"))
    }

    private func crc32(_ bytes: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return c ^ 0xFFFF_FFFF
    }
}
