/// `text` as a JSON string literal, escaped as serde_json (and so HF `tokenizers` and the
/// safetensors format) writes it: quote, backslash and the C0 controls escaped (`\n`, `\r`,
/// `\t`, `\b`, `\f`, otherwise `\u00xx` in lower-case hex); everything else, non-BMP scalars
/// included, written as raw UTF-8.
///
/// The one escaper of the package, for the JSON it writes by hand so that the bytes are
/// exactly the reference's (safetensors headers, tokenizer files).
///
/// ```swift
/// jsonString("a \"b\"\n")   // "\"a \\\"b\\\"\\n\""
/// ```
public func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
