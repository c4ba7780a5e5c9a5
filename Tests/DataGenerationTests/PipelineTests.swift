import DataGeneration
import Foundation
import XCTest

final class PipelineTests: XCTestCase {
    var folders: [URL] = []
    override func tearDown() { for f in folders { try? FileManager.default.removeItem(at: f) } }

    func makeDataset(seed: UInt64, train: Int = 12, val: Int = 4, test: Int = 3) throws -> URL {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)")
        folders.append(out)
        try SynthDatasetWriter(output: out, seed: seed).write(SplitSpec.standard(train: train, val: val, test: test))
        return out
    }

    func files(_ root: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
        for case let url as URL in e where !url.hasDirectoryPath {
            out[String(url.path.dropFirst(root.path.count))] = try Data(contentsOf: url)
        }
        return out
    }

    func testSameSeedGivesIdenticalFiles() throws {
        let a = try files(makeDataset(seed: 7)), b = try files(makeDataset(seed: 7))
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
        for (k, v) in a { XCTAssertEqual(v, b[k], k) }
        XCTAssertTrue(a.keys.contains("/images/train/12.png"))
        XCTAssertTrue(a.keys.contains("/eval_val.jsonl") && a.keys.contains("/eval_test.jsonl"))
        XCTAssertFalse(a.keys.contains("/eval_train.jsonl"))
        let c = try files(makeDataset(seed: 8))
        XCTAssertNotEqual(a["/annotations_train.json"], c["/annotations_train.json"])
    }

    func testAnnotationsAreCOCOShaped() throws {
        let root = try makeDataset(seed: 1)
        let coco = try COCODataset.read(from: root.appendingPathComponent("annotations_train.json"))
        XCTAssertEqual(coco.images.count, 12)
        XCTAssertEqual(coco.captions.count, 60)
        XCTAssertEqual(coco.categories.count, 40)
        XCTAssertEqual(coco.categories.first { $0.name == "red circle" }?.id, ObjectKind(colour: .red, shape: .circle).categoryID)
        for a in coco.annotations {
            XCTAssertEqual(a.bbox.count, 4)
            XCTAssertEqual(a.area, a.bbox[2] * a.bbox[3], accuracy: 0.5)  // w, h and area are each rounded to 0.01
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("annotations_train.json"))) as! [String: Any]
        XCTAssertNotNil((json["images"] as! [[String: Any]])[0]["file_name"])
        XCTAssertNotNil((json["annotations"] as! [[String: Any]])[0]["image_id"])
    }

    /// captions_shapes_<split>.json: the same images, each with the one of its five captions that
    /// names no colour.
    func testShapeCaptionsAreEachImagesColourlessCaption() throws {
        let root = try makeDataset(seed: 4)
        for split in ["train", "test"] {
            let all = try COCODataset.read(from: root.appendingPathComponent("annotations_\(split).json"))
            let shapes = try COCODataset.read(from: root.appendingPathComponent("captions_shapes_\(split).json"))
            XCTAssertEqual(shapes.images, all.images)
            XCTAssertTrue(shapes.annotations.isEmpty)
            XCTAssertEqual(shapes.captions.map(\.imageID), all.images.map(\.id))
            for caption in shapes.captions {
                XCTAssertTrue(all.captions.contains { $0.imageID == caption.imageID && $0.caption == caption.caption }, caption.caption)
                let words = Set(caption.caption.lowercased().split { !$0.isLetter }.map(String.init))
                XCTAssertTrue(words.isDisjoint(with: ObjectColour.allCases.map(\.rawValue)), caption.caption)
            }
            let colourless = all.captions.filter { c in
                Set(c.caption.lowercased().split { !$0.isLetter }.map(String.init)).isDisjoint(with: ObjectColour.allCases.map(\.rawValue))
            }
            XCTAssertEqual(colourless.count, all.images.count, "exactly one colourless caption per image")
        }
    }

    /// Contrast variants follow their scene as their own images, tied to it by group_id; only the
    /// training split gets them, and the first image of each group is the split's plain scene.
    func testContrastVariantsAreGroupedAfterTheirScene() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)")
        folders.append(out)
        var writer = try SynthDatasetWriter(output: out, seed: 3)
        writer.contrastVariants = 2
        let written = try writer.write(SplitSpec.standard(train: 10, val: 2, test: 2))
        let coco = try COCODataset.read(from: out.appendingPathComponent("annotations_train.json"))
        XCTAssertEqual(written, coco.images.count + 4)
        XCTAssertGreaterThan(coco.images.count, 25)
        var groups: [Int: [Int]] = [:]
        for image in coco.images { groups[image.groupID!, default: []].append(image.id) }
        XCTAssertEqual(groups.count, 10)
        for (group, ids) in groups {
            XCTAssertEqual(ids.first, group)
            XCTAssertEqual(ids, Array(group..<(group + ids.count)))
        }
        let scenes = try JSONDecoder().decode([String: Scene].self, from: Data(contentsOf: out.appendingPathComponent("scenes_train.json")))
        let firsts = groups.keys.sorted().map { scenes[String($0)]! }
        XCTAssertEqual(firsts, (0..<10).map { writer.scene(SplitSpec.standard(train: 10, val: 2, test: 2)[0], index: $0) })
        for ids in groups.values {
            for a in ids { for b in ids where b > a { XCTAssertNotEqual(scenes[String(a)], scenes[String(b)], "images \(a) and \(b) are the same scene") } }
        }
        XCTAssertTrue(coco.captions.count == 5 * coco.images.count)
        let test = try COCODataset.read(from: out.appendingPathComponent("annotations_test.json"))
        XCTAssertEqual(test.images.count, 2)
        XCTAssertNil(test.images[0].groupID)
    }

    func testInstructionRecordsFollowLLaVAsFormatAndMix() throws {
        let root = try makeDataset(seed: 2, train: 40, val: 0, test: 0)
        let coco = try COCODataset.read(from: root.appendingPathComponent("annotations_train.json"))
        let builder = InstructionDataBuilder(teacher: SymbolicTeacher(seed: 3), seed: 3)
        let (records, stats) = try builder.instructions(from: coco, count: 400)
        XCTAssertEqual(records.count, 400)
        XCTAssertEqual(stats.droppedReplies, 0)
        XCTAssertEqual(stats.malformedBlocks, 0)
        let share = { (k: InstructionKind) in Double(stats.records[k] ?? 0) / 400 }
        XCTAssertEqual(share(.conversation), 58.0 / 158, accuracy: 0.05)
        XCTAssertEqual(share(.detail), 23.0 / 158, accuracy: 0.05)
        XCTAssertEqual(share(.complex), 77.0 / 158, accuracy: 0.05)
        var before = 0
        for r in records {
            XCTAssertTrue(r.image!.hasPrefix("train/") && r.image!.hasSuffix(".png"))
            XCTAssertEqual(r.conversations.count % 2, 0)
            for (i, t) in r.conversations.enumerated() {
                XCTAssertEqual(t.from, i % 2 == 0 ? "human" : "gpt")
                XCTAssertEqual(t.value.components(separatedBy: "<image>").count - 1, i == 0 ? 1 : 0, r.id)
            }
            if r.conversations[0].value.hasPrefix("<image>\n") { before += 1 } else { XCTAssertTrue(r.conversations[0].value.hasSuffix("\n<image>")) }
        }
        XCTAssertTrue((120...280).contains(before), "image tag first in \(before)/400")
        let again = try builder.instructions(from: coco, count: 400).0
        XCTAssertEqual(again, records)

        let pairs = builder.captionRecords(from: coco)
        XCTAssertEqual(pairs.count, 40)
        XCTAssertTrue(pairs.allSatisfy { $0.conversations.count == 2 && $0.conversations[0].value.hasPrefix("<image>\n") })
        let captionTexts = Set(coco.captions.map(\.caption))
        XCTAssertTrue(pairs.allSatisfy { captionTexts.contains($0.conversations[1].value) })
    }

    /// A teacher that returns garbage: replies are dropped and counted, nothing crashes.
    func testBrokenTeacherRepliesAreDropped() throws {
        struct Broken: Teacher {
            func complete(system: String, fewShot: [(user: String, assistant: String)], query: String) throws -> String {
                system.contains("step by step") ? "Answer:\nno question\n===" : (system.contains("conversation") ? "Question:\nQ?" : " ")
            }
        }
        let root = try makeDataset(seed: 4, train: 10, val: 0, test: 0)
        let coco = try COCODataset.read(from: root.appendingPathComponent("annotations_train.json"))
        let (records, stats) = try InstructionDataBuilder(teacher: Broken(), seed: 0).instructions(from: coco)
        XCTAssertEqual(records.count, 0)
        XCTAssertEqual(stats.droppedReplies, 10)
        XCTAssertGreaterThan(stats.malformedBlocks, 0)
    }
}
