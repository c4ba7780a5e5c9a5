import ArgumentParser
import Foundation
import Tokenizer
import Training

struct TrainTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-tokenizer",
        abstract: "Train a LLaMA-style SentencePiece BPE tokenizer and write tokenizer.json + tokenizer_config.json.",
        discussion: """
        Inputs: .json files give every string value (LLaVA conversations, captions); other files \
        give one document per line. The BPE vocabulary has exactly --vocab-size pieces (<unk>, \
        <s>, </s>, 256 byte pieces, characters, merges); added tokens come after it, special \
        ones first, each in the order given. With --prompt-format, each LLaVA record (.json or \
        .jsonl) gives one text rendered as training renders it (v1: the system prompt, USER:/ASSISTANT: \
        turns, </s>), so the template's words get pieces of their own.
        """)

    @Option(name: .customLong("input"), parsing: .upToNextOption, help: "Training text files (.json or lines).")
    var inputs: [String]

    @Option(help: "Pieces in the BPE model, special and byte pieces included.")
    var vocabSize: Int

    @Option(help: "Output directory.")
    var out: String

    @Option(name: .customLong("added-token"), help: "A non-special added token (repeatable).")
    var addedTokens: [String] = []

    @Option(name: .customLong("special-added-token"), help: "A special added token such as <image> or <pad> (repeatable).")
    var specialAddedTokens: [String] = []

    @Option(help: "Render LLaVA records in this prompt format (plain or v1) instead of taking their strings.")
    var promptFormat: DataTemplate?

    @Option(help: "model_max_length written to tokenizer_config.json.")
    var modelMaxLength = 4096

    @Flag(help: "Keep digit runs together instead of splitting them into single digits.")
    var noSplitDigits = false

    @Flag(help: "Let pieces mix scripts, e.g. \"center,\" (SentencePiece's split_by_unicode_script=false).")
    var noSplitByUnicodeScript = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("--input needs at least one file") }
        guard vocabSize >= 3 + 256 else {
            throw ValidationError("--vocab-size must be at least 259 (3 special + 256 byte pieces), got \(vocabSize)")
        }
        guard modelMaxLength > 0 else { throw ValidationError("--model-max-length must be positive, got \(modelMaxLength)") }
        for token in addedTokens + specialAddedTokens where token.isEmpty {
            throw ValidationError("added tokens must not be empty")
        }
    }

    func run() throws {
        var texts: [String] = []
        for path in inputs {
            let url = URL(fileURLWithPath: path)
            let documents = try promptFormat.map { try renderedDocuments(url, format: $0) } ?? BPETrainingText.documents(in: url)
            FileHandle.standardError.write(Data("\(path): \(documents.count) documents\n".utf8))
            texts += documents
        }
        let added = specialAddedTokens.map { (content: $0, special: true) } + addedTokens.map { (content: $0, special: false) }
        let trainer = BPETrainer(vocabularySize: vocabSize, addedTokens: added, splitDigits: !noSplitDigits,
                                 splitByUnicodeScript: !noSplitByUnicodeScript)
        let trained = trainer.train(texts: texts)
        if trained.vocabulary.count < vocabSize {
            FileHandle.standardError.write(Data(
                "warning: no pairs left to merge; vocabulary has \(trained.vocabulary.count) pieces, not \(vocabSize)\n".utf8))
        }
        try trained.write(to: URL(fileURLWithPath: out), modelMaxLength: modelMaxLength)
        print("wrote \(out)/tokenizer.json (\(trained.vocabulary.count) pieces, \(trained.merges.count) merges, "
              + "\(trained.addedTokens.count) added tokens)")
    }
}
