import DataGeneration
import Foundation
import XCTest

/// COCO's own two files, and the synthetic world's one file, read into teacher contexts.
final class AnnotatedImageTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("coco-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ object: Any, _ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        return url
    }

    static let images: [[String: Any]] = [
        ["id": 391895, "file_name": "000000391895.jpg", "width": 640, "height": 360, "license": 3],
        ["id": 522418, "file_name": "000000522418.jpg", "width": 640, "height": 480],
        ["id": 7, "file_name": "000000000007.jpg", "width": 100, "height": 100],
    ]

    func cocoFiles() throws -> (URL, URL) {
        let captions = try write(["info": ["description": "COCO 2017"], "images": Self.images, "annotations": [
            ["image_id": 391895, "id": 1, "caption": "A man riding a  bike past a bus.\n"],
            ["image_id": 391895, "id": 2, "caption": "A cyclist on a city street."],
            ["image_id": 522418, "id": 3, "caption": "A woman cutting a cake."],
        ]], "captions_val2017.json")
        let instances = try write(["images": Self.images, "categories": [
            ["id": 1, "name": "person", "supercategory": "person"], ["id": 6, "name": "bus", "supercategory": "vehicle"],
        ], "annotations": [
            ["image_id": 391895, "id": 10, "category_id": 6, "bbox": [64.0, 36.0, 320.0, 180.0], "area": 1.0, "iscrowd": 0,
             "segmentation": [[1.0, 2.0, 3.0, 4.0]]],
            ["image_id": 391895, "id": 11, "category_id": 1, "bbox": [600.0, 300.0, 100.0, 100.0], "area": 1.0, "iscrowd": 0],
        ]], "instances_val2017.json")
        return (captions, instances)
    }

    func testCOCOCaptionsAndInstancesMakeThePapersContext() throws {
        let (captions, instances) = try cocoFiles()
        let set = try AnnotatedImageSet.read(annotations: captions, instances: instances, imagePrefix: "coco/val2017/")
        XCTAssertFalse(set.isSynthetic)
        XCTAssertEqual(set.withoutCaptions, 1)
        XCTAssertEqual(set.images.map(\.id), [391895, 522418])
        let bus = set.images[0]
        XCTAssertEqual(bus.path, "coco/val2017/000000391895.jpg")
        XCTAssertEqual(bus.captions, ["A man riding a bike past a bus.", "A cyclist on a city street."])
        let items = GenerationItem.items(set, kinds: InstructionKind.allCases, seed: 0).filter { $0.image.id == 391895 }
        XCTAssertEqual(items.map(\.id).sorted(), ["391895-complex", "391895-conversation", "391895-detail"])
        let conversation = items.first { $0.kind == .conversation }!.context
        XCTAssertEqual(conversation, "A man riding a bike past a bus.\nA cyclist on a city street.")
        let detail = items.first { $0.kind == .detail }!.context
        // [x, y, w, h] pixels → [x1, y1, x2, y2] / size, 3 decimals, clamped to the image.
        XCTAssertEqual(detail, """
            A man riding a bike past a bus.
            A cyclist on a city street.

            bus: [0.100, 0.100, 0.600, 0.600]
            person: [0.938, 0.833, 1.000, 1.000]
            """)
    }

    func testLimitDrawsImagesWithTheSeed() throws {
        let (captions, instances) = try cocoFiles()
        let set = try AnnotatedImageSet.read(annotations: captions, instances: instances)
        let a = GenerationItem.items(set, kinds: [.detail], limit: 1, seed: 5)
        XCTAssertEqual(a.count, 1)
        XCTAssertEqual(a, GenerationItem.items(set, kinds: [.detail], limit: 1, seed: 5))
        XCTAssertEqual(Set((0..<20).map { GenerationItem.items(set, kinds: [.detail], limit: 1, seed: $0)[0].id }).count, 2)
    }

    func testSyntheticAnnotationsHoldBoth() throws {
        let root = dir.appendingPathComponent("synth")
        try SynthDatasetWriter(output: root, seed: 3).write(SplitSpec.standard(train: 4, val: 0, test: 0))
        let set = try AnnotatedImageSet.read(annotations: root.appendingPathComponent("annotations_train.json"))
        XCTAssertTrue(set.isSynthetic)
        XCTAssertEqual(set.split, "train")
        XCTAssertEqual(set.images.count, 4)
        XCTAssertTrue(set.images.allSatisfy { $0.path.hasPrefix("train/") && $0.captions.count == 5 && !$0.objects.isEmpty })
        let ids = GenerationItem.items(set, kinds: [.complex], seed: 0).map(\.id)
        XCTAssertTrue(ids.allSatisfy { $0.hasPrefix("train-") && $0.hasSuffix("-complex") }, "\(ids)")
    }

    func testBadFilesNameTheField() throws {
        let (captions, _) = try cocoFiles()
        let badBox = try write(["images": Self.images, "categories": [["id": 1, "name": "person"]],
                                "annotations": [["image_id": 7, "category_id": 1, "bbox": [1.0, 2.0, 3.0]]]], "bad_bbox.json")
        XCTAssertThrowsError(try AnnotatedImageSet.read(annotations: captions, instances: badBox)) {
            XCTAssertTrue("\($0)".contains("bad_bbox.json") && "\($0)".contains("annotations[0].bbox"), "\($0)")
        }
        let badCategory = try write(["images": Self.images, "categories": [["id": 1, "name": "person"]],
                                     "annotations": [["image_id": 7, "category_id": 99, "bbox": [1.0, 2.0, 3.0, 4.0]]]], "bad_cat.json")
        XCTAssertThrowsError(try AnnotatedImageSet.read(annotations: captions, instances: badCategory)) {
            XCTAssertTrue("\($0)".contains("annotations[0].category_id 99"), "\($0)")
        }
        let noCaptions = try write(["images": Self.images, "annotations": []], "empty.json")
        XCTAssertThrowsError(try AnnotatedImageSet.read(annotations: noCaptions)) {
            XCTAssertTrue("\($0)".contains("empty.json") && "\($0)".contains("no captions"), "\($0)")
        }
        XCTAssertThrowsError(try AnnotatedImageSet.read(annotations: dir.appendingPathComponent("missing.json"))) {
            XCTAssertTrue("\($0)".contains("missing.json"), "\($0)")
        }
    }
}
