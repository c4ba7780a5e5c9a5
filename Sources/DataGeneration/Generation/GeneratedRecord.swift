import Foundation
import Tensor
import OpenAIClient

/// One line of `llava data generate`'s output: a LLaVA record, its kind, and the tokens the
/// teacher spent on it (failed attempts included).
public struct GeneratedRecord: Codable, Sendable, Equatable {
    public var id: String
    public var kind: InstructionKind
    public var image: String?
    public var conversations: [LLaVATurn]
    public var usage: TokenUsage?

    public init(id: String, kind: InstructionKind, image: String?, conversations: [LLaVATurn], usage: TokenUsage? = nil) {
        self.id = id
        self.kind = kind
        self.image = image
        self.conversations = conversations
        self.usage = usage
    }

    /// The LLaVA training record (`id`, `image`, `conversations`).
    public var llavaRecord: LLaVARecord { LLaVARecord(id: id, image: image, conversations: conversations) }
}

/// One line of the rejects file: an item the teacher never answered usably, and why.
public struct RejectedItem: Codable, Sendable, Equatable {
    public var id: String
    public var kind: InstructionKind
    public var image: String?
    /// The last attempt's failure.
    public var reason: String
    public var attempts: Int
    /// The last reply's text, for reading what went wrong ("" when there was none).
    public var reply: String
    public var usage: TokenUsage?
}

/// One request to make: an image and a kind of data.
public struct GenerationItem: Sendable, Equatable {
    public var id: String
    public var kind: InstructionKind
    public var image: AnnotatedImage

    /// Items for `images` × `kinds`, image-major. Ids are `<image id>-<kind>`, led by the split
    /// for the synthetic world (`train-12-detail`), so they are stable across runs.
    public static func items(_ set: AnnotatedImageSet, kinds: [InstructionKind], limit: Int? = nil, seed: UInt64) -> [GenerationItem] {
        var images = set.images
        var rng = SplitMix64(seed: deriveSeed(seed, 23))
        rng.shuffle(&images)
        if let limit { images = Array(images.prefix(limit)) }
        let lead = set.split.map { "\($0)-" } ?? ""
        return images.flatMap { image in
            kinds.map { GenerationItem(id: "\(lead)\(image.id)-\($0.rawValue)", kind: $0, image: image) }
        }
    }

    /// The teacher's context: captions; plus one box line per object for detail and complex.
    public var context: String {
        TeacherPrompts.context(captions: image.captions, boxes: kind.usesBoxes ? image.objects : [])
    }

    /// The LLaVA conversation from validated pairs: a detail record's question is drawn from
    /// `detailRequests`; `<image>` goes before or after the first question. Both draws depend
    /// only on `seed` and the id, so a resumed run makes the same choices.
    public func turns(_ pairs: [QAPair], detailRequests: [String], seed: UInt64) -> [LLaVATurn] {
        var rng = SplitMix64(seed: deriveSeed(seed, stableHash(id), 29))
        var pairs = pairs
        if kind == .detail, !pairs.isEmpty { pairs[0].question = rng.pick(detailRequests) }
        guard let first = pairs.first?.question else { return [] }
        pairs[0].question = rng.chance(0.5) ? "<image>\n" + first : first + "\n<image>"
        return pairs.flatMap { [LLaVATurn(from: "human", value: $0.question), LLaVATurn(from: "gpt", value: $0.answer)] }
    }
}
