import Tokenizer

/// One position of the decoder's input: a token, or one feature row of an image.
/// Two inputs that agree item by item up to some point share that much KV cache.
public enum InputItem: Hashable, Sendable {
    case token(Int)
    /// Row `row` of the projected features of image number `image` (counted in the conversation).
    case image(image: Int, row: Int)
}

/// Turns prompt text with `<image>` markers into input items, by each layout's own rule.
///
/// - llava-hf tokenises the whole text with `<image>` as an added special token and gives
///   each image `featuresPerImage` consecutive positions (the processor's expansion).
/// - The original code (`tokenizer_image_token`) splits the text on `<image>`, tokenises each
///   chunk on its own (so each chunk gets SentencePiece's leading "▁"), keeps only the first
///   BOS and puts one placeholder between chunks, which takes all features of its image.
public struct PromptEncoder: Sendable {
    public let layout: CheckpointLayout
    public let tokenizer: Tokenizer
    public let imageTokenID: Int
    public let featuresPerImage: Int

    public static let imageMarker = "<image>"

    /// Puts one `<image>` line per image before `text`, as the reference CLI does, unless
    /// the text already places its images.
    public static func placingImages(_ count: Int, before text: String) -> String {
        if count == 0 || text.contains(imageMarker) { return text }
        return String(repeating: imageMarker + "\n", count: count) + text
    }

    public init(layout: CheckpointLayout, tokenizer: Tokenizer, imageTokenID: Int, featuresPerImage: Int) {
        self.layout = layout
        self.tokenizer = tokenizer
        self.imageTokenID = imageTokenID
        self.featuresPerImage = featuresPerImage
    }

    /// The items for `prompt`, numbering its images from `firstImage`. `imageCount` is how many
    /// images the caller has for this text; a different number of markers is an error.
    public func encode(_ prompt: String, imageCount: Int, firstImage: Int = 0,
                       addSpecialTokens: Bool = true) throws -> [InputItem] {
        let ids = layout == .llavaHF ? tokenizer.encode(prompt, addSpecialTokens: addSpecialTokens)
                                     : originalIDs(prompt, addSpecialTokens: addSpecialTokens)
        return try expand(ids, imageCount: imageCount, firstImage: firstImage)
    }

    /// The reference's `tokenizer_image_token`, placeholder `imageTokenID` between chunks.
    func originalIDs(_ prompt: String, addSpecialTokens: Bool) -> [Int] {
        let chunks = prompt.components(separatedBy: Self.imageMarker)
            .map { tokenizer.encode($0, addSpecialTokens: addSpecialTokens) }
        var ids: [Int] = []
        var offset = 0
        if let first = chunks.first?.first, first == tokenizer.bosTokenID {
            offset = 1
            ids.append(first)
        }
        for (i, chunk) in chunks.enumerated() {
            if i > 0 { ids.append(imageTokenID) }
            ids.append(contentsOf: chunk.dropFirst(offset))
        }
        return ids
    }

    /// Replaces image placeholders by feature positions. Each marker shorter than a full
    /// expansion is one image; a run that is a multiple of `featuresPerImage` (text already
    /// expanded by a processor) is that many images; any other run cannot match features.
    func expand(_ ids: [Int], imageCount: Int, firstImage: Int) throws -> [InputItem] {
        var items: [InputItem] = []
        items.reserveCapacity(ids.count + imageCount * featuresPerImage)
        var image = 0, i = 0
        while i < ids.count {
            guard ids[i] == imageTokenID else { items.append(.token(ids[i])); i += 1; continue }
            var run = 1
            while i + run < ids.count && ids[i + run] == imageTokenID { run += 1 }
            let images: Int
            if layout == .original || run < featuresPerImage {
                images = run                          // each marker is one image
            } else if run % featuresPerImage == 0 {
                images = run / featuresPerImage       // already expanded by a processor
            } else {
                throw LLaVAError.imageFeatureCountMismatch(tokens: run, features: featuresPerImage)
            }
            for k in 0..<images {
                for row in 0..<featuresPerImage { items.append(.image(image: firstImage + image + k, row: row)) }
            }
            image += images
            i += run
        }
        guard image == imageCount else { throw LLaVAError.imageCountMismatch(placeholders: image, images: imageCount) }
        return items
    }
}
