import Foundation
import Tensor
import Tokenizer
import Vision

// Image–caption pairs for CLIP training: read from LLaVA JSON (the image and its first gpt
// turn) or COCO caption annotations (`images` + `annotations`), images decoded and
// preprocessed once and kept in memory, captions tokenized once.

/// One training pair: an image path (relative to the image folder) and its caption.
public struct CLIPPair: Sendable, Equatable {
    public var image: String
    public var caption: String
    /// Images sharing a group are minimal edits of one another (a contrast set); the trainer puts
    /// a whole group into one batch, so each is the others' hard negative.
    public var group: Int?

    public init(image: String, caption: String, group: Int? = nil) {
        self.image = image
        self.caption = caption
        self.group = group
    }
}

public enum CLIPPairLoading {
    /// The pairs of a LLaVA JSON/JSONL file (records with an image; caption = first gpt turn) or
    /// of a COCO captions file (an object with `images` [{id, file_name}] and `annotations`
    /// [{image_id, caption}]).
    ///
    /// ```swift
    /// let pairs = try CLIPPairLoading.pairs(contentsOf: URL(fileURLWithPath: "captions_train2017.json"))
    /// ```
    public static func pairs(contentsOf url: URL) throws -> [CLIPPair] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw TrainingError.missingFile(url.path) }
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           object["annotations"] != nil || object["captions"] != nil {
            return try coco(object, file: url.path)
        }
        let pairs = try DataLoading.records(contentsOf: url).compactMap { r -> CLIPPair? in
            guard let image = r.image, let answer = r.conversations.first(where: { $0.from == .gpt }) else { return nil }
            return CLIPPair(image: image, caption: answer.value.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard !pairs.isEmpty else { throw TrainingError.invalidArgument("\(url.path): no record has both an image and a gpt turn") }
        return pairs
    }

    /// The pairs of several files, each read as ``pairs(contentsOf:)`` with its images under its
    /// own folder: a pair's image becomes its path under that folder, and the contrast groups of
    /// each file after the first are renumbered to follow the groups before them, so two files'
    /// groups never merge.
    ///
    /// ```swift
    /// let pairs = try CLIPPairLoading.pairs(of: [(plain, plainImages), (varied, variedImages)])
    /// ```
    public static func pairs(of sources: [(data: URL, imageFolder: URL)]) throws -> [CLIPPair] {
        var all: [CLIPPair] = [], nextGroup: Int?
        for source in sources {
            let pairs = try pairs(contentsOf: source.data)
            let groups = pairs.compactMap(\.group)
            let shift = nextGroup.map { $0 - (groups.min() ?? 0) } ?? 0
            all += pairs.map { pair in
                CLIPPair(image: source.imageFolder.appendingPathComponent(pair.image).path, caption: pair.caption,
                         group: pair.group.map { $0 + shift })
            }
            if let last = groups.max() { nextGroup = last + shift + 1 }
        }
        return all
    }

    static func coco(_ object: [String: Any], file: String) throws -> [CLIPPair] {
        // COCO's captions files keep captions under 'annotations'; a combined file (instances and
        // captions, as `llava data synth` writes) keeps them under 'captions'.
        let key = object["captions"] != nil ? "captions" : "annotations"
        guard let images = object["images"] as? [[String: Any]], let annotations = object[key] as? [[String: Any]] else {
            throw TrainingError.invalidArgument("\(file): COCO captions need arrays 'images' and '\(key)'")
        }
        var names: [Int: String] = [:], groups: [Int: Int] = [:]
        for (i, image) in images.enumerated() {
            guard let id = (image["id"] as? NSNumber)?.intValue, let name = image["file_name"] as? String else {
                throw TrainingError.invalidArgument("\(file): images[\(i)] needs an integer 'id' and a 'file_name'")
            }
            names[id] = name
            // An optional extension of the COCO image entry: the contrast set the image belongs to.
            if let group = image["group_id"] {
                guard let g = (group as? NSNumber)?.intValue else {
                    throw TrainingError.invalidArgument("\(file): images[\(i)].group_id must be an integer")
                }
                groups[id] = g
            }
        }
        return try annotations.enumerated().map { i, a in
            guard let id = (a["image_id"] as? NSNumber)?.intValue, let caption = a["caption"] as? String else {
                throw TrainingError.invalidArgument("\(file): \(key)[\(i)] needs an integer 'image_id' and a 'caption'")
            }
            guard let name = names[id] else {
                throw TrainingError.invalidArgument("\(file): \(key)[\(i)] names image_id \(id), which 'images' does not list")
            }
            return CLIPPair(image: name, caption: caption.trimmingCharacters(in: .whitespacesAndNewlines), group: groups[id])
        }
    }
}

/// Captions as the text tower reads them: [BOS] + ids + EOS, cut to `maxPositions` (EOS kept last).
public struct CLIPCaptionEncoder {
    public let tokenizer: Tokenizer
    public let bosTokenID: Int?
    public let eosTokenID: Int
    public let maxPositions: Int

    public init(tokenizer: Tokenizer, bosTokenID: Int?, eosTokenID: Int, maxPositions: Int) {
        self.tokenizer = tokenizer
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.maxPositions = maxPositions
    }

    public func encode(_ caption: String) -> [Int] {
        let body = tokenizer.encode(caption, addSpecialTokens: false)
        let head = bosTokenID.map { [$0] } ?? []
        return Array((head + body).prefix(maxPositions - 1)) + [eosTokenID]
    }
}

/// Every distinct image of the pairs, decoded and run through the CLIP processor once, kept
/// in memory as (C, S, S) floats.
public struct CLIPImageCache {
    public let processor: ImageProcessor
    private(set) var pixels: [String: [Float]] = [:]

    /// The images at `files`, paths as they are (absolute, or relative to the working directory).
    public init(files: [String], processor: ImageProcessor) throws {
        self.processor = processor
        for path in Set(files).sorted() {
            pixels[path] = processor.preprocess(try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path))).values
        }
    }

    /// Already preprocessed images by path (tests, synthetic data).
    public init(pixels: [String: [Float]], processor: ImageProcessor) {
        self.processor = processor
        self.pixels = pixels
    }

    public func pixels(_ path: String) -> [Float] { pixels[path]! }
}
