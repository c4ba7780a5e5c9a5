import Foundation

/// The fields of a `preprocessor_config.json` that transformers' `CLIPImageProcessor` reads,
/// with CLIP's defaults (224 px). Unknown keys (`processor_class`, `image_processor_type`, …)
/// are ignored; a known key with a bad value throws `ImageError.invalidConfiguration`.
///
/// ```swift
/// let config = try ImageProcessorConfiguration(contentsOf: modelDir.appendingPathComponent("preprocessor_config.json"))
/// let processor = ImageProcessor(configuration: config)
/// ```
public struct ImageProcessorConfiguration: Sendable, Equatable {
    /// `size`: `{"shortest_edge": N}` (or a bare int, as the openai CLIP files spell it) keeps
    /// the aspect ratio; `{"height": H, "width": W}` resizes to exactly that.
    public enum Size: Sendable, Equatable {
        case shortestEdge(Int)
        case exact(height: Int, width: Int)
    }

    public var doResize = true
    public var size = Size.shortestEdge(224)
    public var resample = ResamplingFilter.bicubic
    public var doCenterCrop = true
    public var cropHeight = 224
    public var cropWidth = 224
    public var doRescale = true
    public var rescaleFactor = 1.0 / 255.0
    public var doNormalize = true
    public var imageMean: [Double] = [0.48145466, 0.4578275, 0.40821073]
    public var imageStd: [Double] = [0.26862954, 0.26130258, 0.27577711]
    /// Always satisfied: `RGBImage` is RGB. Kept so a config round-trips.
    public var doConvertRGB = true

    /// CLIP's defaults (224 px).
    public init() {}

    /// LLaVA-1.5's processor (openai/clip-vit-large-patch14-336): shortest edge 336, crop 336.
    public static let clip336: ImageProcessorConfiguration = {
        var config = ImageProcessorConfiguration()
        config.size = .shortestEdge(336)
        config.cropHeight = 336
        config.cropWidth = 336
        return config
    }()

    /// LLaVA's `expand2square` fill: `tuple(int(x * 255) for x in image_mean)`, (122, 116, 104)
    /// for CLIP.
    public var meanColor: (UInt8, UInt8, UInt8) {
        func byte(_ i: Int) -> UInt8 { UInt8(clamping: Int(imageMean[i] * 255)) }
        return (byte(0), byte(1), byte(2))
    }

    public init(contentsOf url: URL) throws {
        let file = url.path
        guard FileManager.default.fileExists(atPath: file) else { throw ImageError.fileNotFound(file: file) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        } catch {
            throw ImageError.invalidConfiguration(file: file, key: "(file)", value: "unparsable JSON",
                                                  expected: "a JSON object (\(error.localizedDescription))")
        }
        guard let json = object as? [String: Any] else {
            throw ImageError.invalidConfiguration(file: file, key: "(file)", value: "\(type(of: object))",
                                                  expected: "a JSON object")
        }
        try self.init(json: json, file: file)
    }

    public init(json: [String: Any], file: String) throws {
        let reader = ConfigReader(json: json, file: file)
        if let v = try reader.bool("do_resize") { doResize = v }
        if let v = json["size"] { size = try reader.size(v, key: "size") }
        if let v = try reader.int("resample") {
            guard let filter = ResamplingFilter(rawValue: v) else {
                throw reader.invalid("resample", v, "0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box or 5 hamming")
            }
            resample = filter
        }
        if let v = try reader.bool("do_center_crop") { doCenterCrop = v }
        if let v = json["crop_size"] {
            guard case .exact(let h, let w) = try reader.size(v, key: "crop_size", bareIntIsSquare: true) else {
                throw reader.invalid("crop_size", v, "an int or {\"height\", \"width\"}")
            }
            (cropHeight, cropWidth) = (h, w)
        }
        if let v = try reader.bool("do_rescale") { doRescale = v }
        if let v = try reader.double("rescale_factor") { rescaleFactor = v }
        if let v = try reader.bool("do_normalize") { doNormalize = v }
        if let v = try reader.triple("image_mean") { imageMean = v }
        if let v = try reader.triple("image_std") {
            guard v.allSatisfy({ $0 != 0 }) else { throw reader.invalid("image_std", v, "non-zero values") }
            imageStd = v
        }
        if let v = try reader.bool("do_convert_rgb") { doConvertRGB = v }
    }
}

// MARK: - JSON reading with typed errors

private struct ConfigReader {
    let json: [String: Any]
    let file: String

    func invalid(_ key: String, _ value: Any, _ expected: String) -> ImageError {
        .invalidConfiguration(file: file, key: key, value: "\(value)", expected: expected)
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        guard let b = v as? Bool else { throw invalid(key, v, "true or false") }
        return b
    }

    func double(_ key: String) throws -> Double? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        guard !(v is String), let d = (v as? NSNumber)?.doubleValue, d.isFinite else { throw invalid(key, v, "a number") }
        return d
    }

    func int(_ key: String) throws -> Int? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        return try positiveInt(v, key: key, allowZero: true)
    }

    func positiveInt(_ v: Any, key: String, allowZero: Bool = false) throws -> Int {
        guard !(v is String), !(v is Bool), let d = (v as? NSNumber)?.doubleValue, d == d.rounded(),
              d >= (allowZero ? 0 : 1), d < 1e9 else {
            throw invalid(key, v, allowZero ? "a non-negative integer" : "a positive integer")
        }
        return Int(d)
    }

    /// An int, or a dict with "shortest_edge" or "height"+"width" (transformers' get_size_dict).
    func size(_ v: Any, key: String, bareIntIsSquare: Bool = false) throws -> ImageProcessorConfiguration.Size {
        if let dict = v as? [String: Any] {
            if let edge = dict["shortest_edge"] {
                guard dict["longest_edge"] == nil else {
                    throw invalid(key, v, "shortest_edge without longest_edge (not supported)")
                }
                return .shortestEdge(try positiveInt(edge, key: "\(key).shortest_edge"))
            }
            guard let h = dict["height"], let w = dict["width"] else {
                throw invalid(key, v, "{\"shortest_edge\": N} or {\"height\": H, \"width\": W}")
            }
            return .exact(height: try positiveInt(h, key: "\(key).height"), width: try positiveInt(w, key: "\(key).width"))
        }
        let n = try positiveInt(v, key: key)
        return bareIntIsSquare ? .exact(height: n, width: n) : .shortestEdge(n)
    }

    /// A per-channel list of 3 numbers, or one number for all channels.
    func triple(_ key: String) throws -> [Double]? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        if let list = v as? [Any] {
            let values = list.compactMap { ($0 is String || $0 is Bool) ? nil : ($0 as? NSNumber)?.doubleValue }
            guard values.count == 3, list.count == 3 else { throw invalid(key, v, "3 numbers (one per RGB channel)") }
            return values
        }
        guard let d = try double(key) else { return nil }
        return [d, d, d]
    }
}
