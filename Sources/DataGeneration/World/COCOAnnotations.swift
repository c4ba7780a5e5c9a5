import Foundation

/// COCO-style annotations of one split: instances and captions in one file
/// (`annotations_<split>.json`). HF/COCO snake_case names live only in `CodingKeys`.
public struct COCODataset: Codable, Sendable, Equatable {
    public struct Info: Codable, Sendable, Equatable {
        public var split: String
        public var seed: UInt64
        public var imageSize: Int
        enum CodingKeys: String, CodingKey { case split, seed, imageSize = "image_size" }
    }

    public struct Image: Codable, Sendable, Equatable {
        public var id: Int
        /// Relative to `images/<split>/`.
        public var fileName: String
        public var width: Int
        public var height: Int
        /// The contrast set: the id of the scene this image is a minimal edit of (itself for the
        /// original). Absent when the split has no contrast variants.
        public var groupID: Int?
        enum CodingKeys: String, CodingKey { case id, fileName = "file_name", width, height, groupID = "group_id" }
    }

    public struct Annotation: Codable, Sendable, Equatable {
        public var id: Int
        public var imageID: Int
        public var categoryID: Int
        /// [x, y, width, height] in pixels.
        public var bbox: [Double]
        /// Area of the box in pixels.
        public var area: Double
        public var iscrowd = 0
        enum CodingKeys: String, CodingKey { case id, imageID = "image_id", categoryID = "category_id", bbox, area, iscrowd }
    }

    public struct Category: Codable, Sendable, Equatable {
        public var id: Int
        /// "red circle"
        public var name: String
        public var supercategory: String
    }

    public struct Caption: Codable, Sendable, Equatable {
        public var imageID: Int
        public var id: Int
        public var caption: String
        enum CodingKeys: String, CodingKey { case imageID = "image_id", id, caption }
    }

    public var info: Info
    public var images: [Image] = []
    public var annotations: [Annotation] = []
    public var categories: [Category]
    public var captions: [Caption] = []

    public init(info: Info) {
        self.info = info
        categories = ObjectKind.all.map { Category(id: $0.categoryID, name: $0.name, supercategory: $0.shape.rawValue) }
    }

    /// Path of an image relative to the `images` folder: "<split>/<id>.png".
    public func imagePath(_ image: Image) -> String { "\(info.split)/\(image.fileName)" }

    public static func read(from url: URL) throws -> COCODataset {
        do {
            return try JSONDecoder().decode(COCODataset.self, from: Data(contentsOf: url))
        } catch {
            throw DataGenerationError.malformedFile(file: url.path, reason: "\(error)")
        }
    }

    public func write(to url: URL) throws { try writeJSON(self, to: url) }
}

/// Sorted keys and no escaped slashes, so equal data gives equal bytes.
func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    try encoder.encode(value).write(to: url, options: .atomic)
}
