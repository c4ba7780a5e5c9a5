import Foundation
import Tensor

/// One turn of a LLaVA conversation record.
public struct LLaVATurn: Codable, Sendable, Equatable {
    /// "human" or "gpt".
    public var from: String
    public var value: String
    public init(from: String, value: String) { self.from = from; self.value = value }
}

/// A LLaVA training record: `{"id", "image", "conversations"}` (no `image` for text-only).
public struct LLaVARecord: Codable, Sendable, Equatable {
    public var id: String
    public var image: String?
    public var conversations: [LLaVATurn]
    public init(id: String, image: String?, conversations: [LLaVATurn]) { self.id = id; self.image = image; self.conversations = conversations }

    public static func write(_ records: [LLaVARecord], to url: URL) throws { try writeJSON(records, to: url) }

    /// A LLaVA JSON file (an array of records).
    public static func read(from url: URL) throws -> [LLaVARecord] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DataGenerationError.malformedFile(file: url.path, reason: "unreadable")
        }
        do { return try JSONDecoder().decode([LLaVARecord].self, from: data) } catch {
            throw DataGenerationError.malformedFile(file: url.path, reason: "not a LLaVA JSON array of records: \(error)")
        }
    }
}

/// What a build produced and dropped.
public struct InstructionBuildStats: Sendable, Equatable {
    public var records: [InstructionKind: Int] = [:]
    /// Teacher replies with no usable content (every block malformed, or empty).
    public var droppedReplies = 0
    /// Malformed `Question/Answer` blocks, summed over all replies.
    public var malformedBlocks = 0
}

/// LLaVA's instruction-data pipeline: for each image, pick a kind (in LLaVA-Instruct-158K's
/// proportions), describe the image to the teacher symbolically (captions; plus boxes for detail
/// and complex), parse its reply and emit a LLaVA record. Teacher-agnostic.
///
/// ```swift
/// let coco = try COCODataset.read(from: URL(fileURLWithPath: "synth/annotations_train.json"))
/// let builder = InstructionDataBuilder(teacher: SymbolicTeacher(seed: 1), seed: 1)
/// let (records, stats) = try builder.instructions(from: coco)
/// ```
public struct InstructionDataBuilder {
    public var teacher: any Teacher
    public var seed: UInt64

    public init(teacher: any Teacher, seed: UInt64) { self.teacher = teacher; self.seed = seed }

    /// Requests for a detailed description (in the spirit of the paper's list; own words).
    public static let detailRequests = [
        "Describe the following image in detail.",
        "Give a detailed description of this image.",
        "Describe everything you see in the image.",
        "Explain in detail what this picture shows.",
        "Write a thorough description of the image.",
        "What is in this image? Describe it in detail.",
        "Describe the objects in the image and where they are.",
        "Tell me about this image in as much detail as you can.",
        "Provide a complete description of the picture.",
        "Walk me through the contents of this image.",
    ]

    /// Requests for a brief description (stage-1 caption pairs).
    public static let briefRequests = [
        "Describe the image briefly.",
        "Give a short description of this image.",
        "Summarize the picture in one sentence.",
        "What does this image show? Answer briefly.",
        "Write a brief caption for the image.",
        "Provide a concise description of the picture.",
        "Describe this image in a few words.",
        "Share a short summary of what you see.",
    ]

    /// `count` kinds in exactly LLaVA-Instruct-158K's proportions (rounded), in seeded random order.
    public static func kindSchedule(count: Int, seed: UInt64) -> [InstructionKind] {
        let total = InstructionKind.allCases.reduce(0) { $0 + $1.referenceCount }
        var schedule: [InstructionKind] = []
        var assigned = 0, cumulative = 0
        for kind in InstructionKind.allCases {
            cumulative += kind.referenceCount
            let upTo = Int((Double(count) * Double(cumulative) / Double(total)).rounded())
            schedule += Array(repeating: kind, count: upTo - assigned)
            assigned = upTo
        }
        var rng = SplitMix64(seed: deriveSeed(seed, 11))
        rng.shuffle(&schedule)
        return schedule
    }

    /// Teacher boxes of an image: category and corners normalised by the image size.
    static func contextBoxes(_ coco: COCODataset, _ image: COCODataset.Image, _ annotations: [COCODataset.Annotation]) -> [ContextBox] {
        let names = Dictionary(uniqueKeysWithValues: coco.categories.map { ($0.id, $0.name) })
        let w = Double(image.width), h = Double(image.height)
        return annotations.map { a in
            ContextBox(category: names[a.categoryID] ?? "object",
                       box: Box(x1: a.bbox[0] / w, y1: a.bbox[1] / h, x2: (a.bbox[0] + a.bbox[2]) / w, y2: (a.bbox[1] + a.bbox[3]) / h))
        }
    }

    /// `count` records (default: one per image), cycling over the images.
    public func instructions(from coco: COCODataset, count: Int? = nil,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> ([LLaVARecord], InstructionBuildStats) {
        guard !coco.images.isEmpty else { return ([], InstructionBuildStats()) }
        let n = count ?? coco.images.count
        let captions = Dictionary(grouping: coco.captions, by: \.imageID)
        let annotations = Dictionary(grouping: coco.annotations, by: \.imageID)
        let schedule = Self.kindSchedule(count: n, seed: seed)
        var records: [LLaVARecord] = []
        var stats = InstructionBuildStats()
        for i in 0..<n {
            let image = coco.images[i % coco.images.count]
            let kind = schedule[i]
            let prompt = TeacherPrompt(kind: kind, captions: (captions[image.id] ?? []).map(\.caption),
                                       boxes: Self.contextBoxes(coco, image, annotations[image.id] ?? []))
            let reply = try teacher.complete(system: prompt.system, fewShot: prompt.fewShot, query: prompt.query)
            var rng = SplitMix64(seed: deriveSeed(seed, UInt64(i), 7))
            if let turns = turns(kind, reply, &rng, &stats) {
                records.append(LLaVARecord(id: "\(coco.info.split)-\(image.id)-\(kind.rawValue)-\(i)",
                                           image: coco.imagePath(image), conversations: turns))
                stats.records[kind, default: 0] += 1
            } else {
                stats.droppedReplies += 1
            }
            progress(i + 1, n)
        }
        return (records, stats)
    }

    /// The conversation of one record, `<image>` on the first human turn; nil for an unusable reply.
    private func turns(_ kind: InstructionKind, _ reply: String, _ rng: inout SplitMix64,
                       _ stats: inout InstructionBuildStats) -> [LLaVATurn]? {
        var pairs: [QAPair]
        if kind == .detail {
            guard let text = ReplyParser.parseDescription(reply) else { return nil }
            pairs = [QAPair(question: rng.pick(Self.detailRequests), answer: text)]
        } else {
            let parsed = ReplyParser.parse(reply)
            stats.malformedBlocks += parsed.malformedBlocks
            pairs = kind == .complex ? Array(parsed.pairs.prefix(1)) : parsed.pairs
        }
        guard !pairs.isEmpty else { return nil }
        // The paper places the image before or after the first question at random.
        let first = pairs[0].question
        pairs[0].question = rng.chance(0.5) ? "<image>\n" + first : first + "\n<image>"
        return pairs.flatMap { [LLaVATurn(from: "human", value: $0.question), LLaVATurn(from: "gpt", value: $0.answer)] }
    }

    /// Stage-1 pairs: one per image, a brief-description request and one of its captions.
    public func captionRecords(from coco: COCODataset) -> [LLaVARecord] {
        let captions = Dictionary(grouping: coco.captions, by: \.imageID)
        return coco.images.compactMap { image in
            guard let options = captions[image.id], !options.isEmpty else { return nil }
            var rng = SplitMix64(seed: deriveSeed(seed, UInt64(image.id), 13))
            return LLaVARecord(id: "\(coco.info.split)-\(image.id)", image: coco.imagePath(image), conversations: [
                LLaVATurn(from: "human", value: "<image>\n" + rng.pick(Self.briefRequests)),
                LLaVATurn(from: "gpt", value: rng.pick(options).caption),
            ])
        }
    }
}
