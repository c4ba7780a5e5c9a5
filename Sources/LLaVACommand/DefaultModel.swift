import Foundation

/// The built-in model: a small LLaVA the project trains from scratch on its synthetic world
/// (`scripts/make_default_model.sh`), shipped as a resource of the `llava` executable.
/// `LLAVA_DEFAULT_MODEL` points elsewhere.
enum DefaultModel {
    static var directory: URL? {
        if let path = ProcessInfo.processInfo.environment["LLAVA_DEFAULT_MODEL"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return Bundle.module.url(forResource: "DefaultModel", withExtension: nil)
    }
}
