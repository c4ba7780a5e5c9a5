import Foundation
import TestSupport
import Vision
import XCTest

/// `ImageProcessor` against transformers' CLIPImageProcessorPil, `expandToSquare` geometry and
/// configuration parsing.
final class ImagePreprocessingTests: XCTestCase {
    private func processor(_ config: String) throws -> ImageProcessor {
        ImageProcessor(configuration: try ImageProcessorConfiguration(contentsOf: ImageReference.url("configs/\(config).json")))
    }

    private func reference(_ key: String) throws -> (shape: [Int], values: [Float]) {
        let t = try ImageReference.file.tensor(key)
        return (t.shape, t.toFloatArray())
    }

    /// Every dumped (config, image, pad) triple; clip336 is stored subsampled [:, ::4, ::4].
    func testPixelValuesMatchTransformers() throws {
        let clip = ImageReference.index["clip"] as! [String: Any]
        var checked = 0, worst: Float = 0
        for config in ["clip30", "clip336", "odd"] {
            let proc = try processor(config)
            let background = (clip["\(config)_background"] as! [Int]).map { UInt8($0) }
            XCTAssertEqual([proc.configuration.meanColor.0, proc.configuration.meanColor.1, proc.configuration.meanColor.2], background)
            for (name, pads) in (clip[config] as! [String: [Bool]]).sorted(by: { $0.key < $1.key }) {
                let image = try ImageReference.decoded(name)
                for pad in pads {
                    let key = "clip/\(config)/\(pad ? "pad/" : "")\(name)"
                    let input = pad ? expandToSquare(image, background: proc.configuration.meanColor) : image
                    var out = proc.preprocess(input)
                    if config == "clip336" {
                        XCTAssertEqual([out.channels, out.height, out.width], [3, 336, 336], key)
                        out = subsample(out, step: ImageReference.index["clip336_subsample"] as! Int)
                    }
                    let expected = try reference(key)
                    XCTAssertEqual([out.channels, out.height, out.width], expected.shape, key)
                    guard expected.values.count == out.values.count else { continue }
                    let diff = maxAbsDifference(out.values, expected.values)
                    XCTAssertLessThanOrEqual(diff, 1e-5, "\(key): \(differenceReport(out.values, expected.values)) \(ImageReference.stale)")
                    checked += 1
                    worst = max(worst, diff)
                }
            }
        }
        print("pixel_values compared for \(checked) (config, image, pad) cases, max |Δ| \(worst)")
        XCTAssertEqual(checked, 23)
    }

    private func subsample(_ p: PixelValues, step: Int) -> PixelValues {
        let h = (p.height + step - 1) / step, w = (p.width + step - 1) / step
        var values = [Float]()
        for c in 0..<p.channels { for y in stride(from: 0, to: p.height, by: step) { for x in stride(from: 0, to: p.width, by: step) {
            values.append(p.values[(c * p.height + y) * p.width + x])
        } } }
        return PixelValues(channels: p.channels, height: h, width: w, values: values)
    }

    func testResizedSizeFollowsShortestEdge() {
        let p = ImageProcessor(configuration: .clip336)
        XCTAssertTrue(p.resizedSize(width: 500, height: 333) == (336, 504))   // int(336 * 500 / 333) = 504
        XCTAssertTrue(p.resizedSize(width: 23, height: 41) == (598, 336))     // int(336 * 41 / 23) = 598
        XCTAssertTrue(p.resizedSize(width: 64, height: 64) == (336, 336))
        let image = RGBImage(width: 500, height: 333, fill: (1, 2, 3))
        let out = p.resized(image)
        XCTAssertEqual([out.width, out.height], [336, 336])
    }

    func testExpandToSquareGeometry() {
        let bg: (UInt8, UInt8, UInt8) = (122, 116, 104)
        let wide = RGBImage(width: 5, height: 2, fill: (9, 9, 9))
        let sq = expandToSquare(wide, background: bg)
        XCTAssertEqual([sq.width, sq.height], [5, 5])
        // (5 - 2) // 2 = 1 row above, 2 below.
        XCTAssertTrue(sq[0, 0] == bg && sq[4, 0] == bg && sq[0, 3] == bg && sq[0, 4] == bg)
        XCTAssertTrue(sq[0, 1] == (9, 9, 9) && sq[4, 2] == (9, 9, 9))
        let tall = RGBImage(width: 2, height: 5, fill: (7, 7, 7))
        let sq2 = expandToSquare(tall, background: bg)
        XCTAssertTrue(sq2[0, 0] == bg && sq2[1, 0] == (7, 7, 7) && sq2[2, 4] == (7, 7, 7) && sq2[3, 0] == bg)
        let square = RGBImage(width: 3, height: 3, fill: (1, 1, 1))
        XCTAssertEqual(expandToSquare(square, background: bg), square)
        XCTAssertTrue(ImageProcessorConfiguration.clip336.meanColor == (122, 116, 104))
    }

    func testCenterCropPadsWithZerosWhenSmaller() {
        let image = RGBImage(width: 3, height: 2, fill: (5, 5, 5))
        let out = centerCrop(image, height: 4, width: 2)
        // rows: floor((2 - 4) / 2) = -1 → row 0 and 3 are padding; columns: floor(1/2) = 0.
        XCTAssertEqual([out.width, out.height], [2, 4])
        XCTAssertTrue(out[0, 0] == (0, 0, 0) && out[1, 3] == (0, 0, 0) && out[0, 1] == (5, 5, 5) && out[1, 2] == (5, 5, 5))
    }

    // MARK: - configuration

    private func config(_ json: String) throws -> ImageProcessorConfiguration {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return try ImageProcessorConfiguration(json: object, file: "preprocessor_config.json")
    }

    func testConfigurationSpellings() throws {
        let legacy = try ImageProcessorConfiguration(contentsOf: ImageReference.url("configs/clip336.json"))
        XCTAssertEqual(legacy, .clip336)
        let hf = try config(#"{"size": {"height": 17, "width": 25}, "crop_size": {"height": 21, "width": 19}, "resample": 2, "do_center_crop": false, "image_mean": 0.5}"#)
        XCTAssertEqual(hf.size, .exact(height: 17, width: 25))
        XCTAssertEqual([hf.cropHeight, hf.cropWidth], [21, 19])
        XCTAssertEqual(hf.resample, .bilinear)
        XCTAssertFalse(hf.doCenterCrop)
        XCTAssertEqual(hf.imageMean, [0.5, 0.5, 0.5])
        XCTAssertEqual(try config("{}"), ImageProcessorConfiguration())
    }

    func testBadValuesNameFileAndKey() {
        func expect(_ json: String, key: String, line: UInt = #line) {
            XCTAssertThrowsError(try config(json), line: line) { error in
                guard case ImageError.invalidConfiguration(let file, let k, _, _) = error else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(file, "preprocessor_config.json", line: line)
                XCTAssertEqual(k, key, line: line)
                XCTAssertTrue("\(error)".contains(key), line: line)
            }
        }
        expect(#"{"resample": 7}"#, key: "resample")
        expect(#"{"size": {"shortest_edge": 0}}"#, key: "size.shortest_edge")
        expect(#"{"size": {"width": 3}}"#, key: "size")
        expect(#"{"crop_size": "big"}"#, key: "crop_size")
        expect(#"{"image_mean": [0.5, 0.5]}"#, key: "image_mean")
        expect(#"{"image_std": [0.5, 0, 0.5]}"#, key: "image_std")
        expect(#"{"do_resize": "yes"}"#, key: "do_resize")
        expect(#"{"rescale_factor": "1/255"}"#, key: "rescale_factor")
        XCTAssertThrowsError(try ImageProcessorConfiguration(contentsOf: ImageReference.url("configs/missing.json"))) {
            guard case ImageError.fileNotFound = $0 else { return XCTFail("\($0)") }
        }
    }
}
