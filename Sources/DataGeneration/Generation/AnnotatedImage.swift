import Foundation

/// One image as the teacher learns about it: its captions and its objects' boxes, read from
/// COCO's files (`captions_*.json`, `instances_*.json`) or from the synthetic world's
/// `annotations_<split>.json`, which holds both.
public struct AnnotatedImage: Sendable, Equatable {
    public var id: Int
    /// The image file relative to the image folder, as a LLaVA record's `image` names it.
    public var path: String
    public var captions: [String]
    /// Category and box corners normalised to 0–1 by the image size.
    public var objects: [ContextBox]

    public init(id: Int, path: String, captions: [String], objects: [ContextBox]) {
        self.id = id
        self.path = path
        self.captions = captions
        self.objects = objects
    }
}

/// The images of one split, ready for the teacher.
///
/// ```swift
/// let set = try AnnotatedImageSet.read(annotations: URL(fileURLWithPath: "captions_train2017.json"),
///                                      instances: URL(fileURLWithPath: "instances_train2017.json"))
/// print(set.images.count, set.isSynthetic)
/// ```
public struct AnnotatedImageSet: Sendable {
    /// Sorted by image id; images without a caption are left out (there is nothing to tell).
    public var images: [AnnotatedImage]
    /// Images skipped because no caption names them.
    public var withoutCaptions: Int
    /// The file is the synthetic world's (its `info` names a split and a seed).
    public var isSynthetic: Bool
    /// The synthetic split ("train"), nil for COCO.
    public var split: String?

    public init(images: [AnnotatedImage], withoutCaptions: Int = 0, isSynthetic: Bool = false, split: String? = nil) {
        self.images = images
        self.withoutCaptions = withoutCaptions
        self.isSynthetic = isSynthetic
        self.split = split
    }

    /// Reads captions (and boxes, if the file has them) from `annotations`, boxes from `instances`
    /// when given. `imagePrefix` goes before every `file_name` (default: "<split>/" for the
    /// synthetic world, nothing for COCO).
    public static func read(annotations: URL, instances: URL? = nil, imagePrefix: String? = nil) throws -> AnnotatedImageSet {
        let main = try COCOFile.read(annotations)
        let boxFile = try instances.map(COCOFile.read) ?? main
        let split = main.file.info?.split
        let synthetic = split != nil && main.file.info?.seed != nil
        let prefix = imagePrefix ?? (synthetic ? "\(split!)/" : "")
        let captions = try main.captionsByImage()
        let boxes = try boxFile.boxesByImage(sizes: main.imageSizes())
        var skipped = 0
        var images: [AnnotatedImage] = []
        for image in (main.file.images ?? []).sorted(by: { $0.id < $1.id }) {
            guard let texts = captions[image.id], !texts.isEmpty else { skipped += 1; continue }
            images.append(AnnotatedImage(id: image.id, path: prefix + image.fileName, captions: texts,
                                         objects: boxes[image.id] ?? []))
        }
        return AnnotatedImageSet(images: images, withoutCaptions: skipped, isSynthetic: synthetic,
                                 split: synthetic ? split : nil)
    }
}

/// The parts of a COCO annotation file the teacher needs, decoded leniently: COCO's captions
/// file, its instances file and the synthetic world's combined file all fit.
struct COCOFile {
    struct Content: Decodable {
        struct Info: Decodable { var split: String?; var seed: UInt64? }
        struct Image: Decodable {
            var id: Int; var fileName: String; var width: Int; var height: Int
            enum CodingKeys: String, CodingKey { case id, fileName = "file_name", width, height }
        }
        /// A caption (captions file) or an object (instances file).
        struct Annotation: Decodable {
            var imageID: Int; var caption: String?; var bbox: [Double]?; var categoryID: Int?
            enum CodingKeys: String, CodingKey { case imageID = "image_id", caption, bbox, categoryID = "category_id" }
        }
        struct Category: Decodable { var id: Int; var name: String }
        struct Caption: Decodable {
            var imageID: Int; var caption: String
            enum CodingKeys: String, CodingKey { case imageID = "image_id", caption }
        }
        var info: Info?
        var images: [Image]?
        var annotations: [Annotation]?
        var categories: [Category]?
        var captions: [Caption]?
    }

    let path: String
    let file: Content

    static func read(_ url: URL) throws -> COCOFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataGenerationError.malformedFile(file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        do { return COCOFile(path: url.path, file: try JSONDecoder().decode(Content.self, from: data)) } catch {
            throw DataGenerationError.malformedFile(file: url.path, reason: "not a COCO annotation file: \(error)")
        }
    }

    func imageSizes() throws -> [Int: (width: Int, height: Int)] {
        guard let images = file.images, !images.isEmpty else {
            throw DataGenerationError.malformedFile(file: path, reason: "no \"images\" array")
        }
        var sizes: [Int: (width: Int, height: Int)] = [:]
        for (i, image) in images.enumerated() {
            guard image.width > 0, image.height > 0 else {
                throw DataGenerationError.malformedFile(
                    file: path, reason: "images[\(i)] (id \(image.id)): width and height must be positive, got \(image.width)x\(image.height)")
            }
            sizes[image.id] = (image.width, image.height)
        }
        return sizes
    }

    /// Captions from `annotations[].caption` (COCO) and `captions[]` (the synthetic world).
    func captionsByImage() throws -> [Int: [String]] {
        var out: [Int: [String]] = [:]
        for a in file.annotations ?? [] { if let c = a.caption { out[a.imageID, default: []].append(clean(c)) } }
        for c in file.captions ?? [] { out[c.imageID, default: []].append(clean(c.caption)) }
        guard !out.isEmpty else {
            throw DataGenerationError.malformedFile(file: path, reason: "no captions (neither annotations[].caption nor captions[])")
        }
        return out.mapValues { $0.filter { !$0.isEmpty } }
    }

    /// COCO captions carry stray spaces and newlines.
    private func clean(_ caption: String) -> String {
        caption.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Boxes from annotations with a `bbox`, `[x, y, width, height]` in pixels, normalised by the
    /// size of their image in `sizes`.
    func boxesByImage(sizes: [Int: (width: Int, height: Int)]) throws -> [Int: [ContextBox]] {
        let names = Dictionary((file.categories ?? []).map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var out: [Int: [ContextBox]] = [:]
        for (i, a) in (file.annotations ?? []).enumerated() {
            guard let bbox = a.bbox else { continue }
            let field = "annotations[\(i)]"
            guard bbox.count == 4, bbox[2] >= 0, bbox[3] >= 0 else {
                throw DataGenerationError.malformedFile(file: path, reason: "\(field).bbox: expected [x, y, width, height] with width, height >= 0, got \(bbox)")
            }
            guard let id = a.categoryID, let name = names[id] else {
                throw DataGenerationError.malformedFile(file: path, reason: "\(field).category_id \(a.categoryID.map(String.init) ?? "missing") is not in categories")
            }
            guard let size = sizes[a.imageID] else {
                throw DataGenerationError.malformedFile(file: path, reason: "\(field).image_id \(a.imageID) is not in the annotations' images")
            }
            out[a.imageID, default: []].append(ContextBox(category: name, pixelBox: bbox, width: size.width, height: size.height))
        }
        return out
    }
}

extension ContextBox {
    /// A COCO `[x, y, width, height]` pixel box as corners normalised to 0–1 (clamped).
    public init(category: String, pixelBox b: [Double], width: Int, height: Int) {
        let w = Double(width), h = Double(height)
        func unit(_ v: Double) -> Double { min(max(v, 0), 1) }
        self.init(category: category, box: Box(x1: unit(b[0] / w), y1: unit(b[1] / h),
                                               x2: unit((b[0] + b[2]) / w), y2: unit((b[1] + b[3]) / h)))
    }
}
