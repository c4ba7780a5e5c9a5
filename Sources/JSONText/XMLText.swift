/// `text` as XML 1.0 character data or an attribute value: `&`, `<`, `>` and `"` as entities,
/// the C0 controls XML 1.0 forbids (all but tab, newline and carriage return) left out.
///
/// The one XML escaper of the package, for the XML it writes by hand (the loss curve's SVG,
/// the MMBench answers workbook).
///
/// ```swift
/// xmlText("a < \"b\" & c")   // "a &lt; &quot;b&quot; &amp; c"
/// ```
public func xmlText(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case _ where scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r": continue
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
