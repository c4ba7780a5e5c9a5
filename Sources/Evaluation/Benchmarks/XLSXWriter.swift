import Foundation
import JSONText

/// A one-sheet .xlsx (Office Open XML) of text cells: what MMBench's evaluation server takes
/// (the reference writes it with pandas + openpyxl). The package is a ZIP with stored
/// (uncompressed) entries; cells are inline strings, so no shared-string table is needed.
public enum XLSXWriter {
    public static func workbook(rows: [[String]]) -> Data {
        let files: [(String, String)] = [
            ("[Content_Types].xml", """
             <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
             <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>
             """),
            ("_rels/.rels", """
             <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
             <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>
             """),
            ("xl/workbook.xml", """
             <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
             <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>
             """),
            ("xl/_rels/workbook.xml.rels", """
             <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
             <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>
             """),
            ("xl/worksheets/sheet1.xml", sheet(rows)),
        ]
        return zipStored(files.map { ($0.0, Data($0.1.utf8)) })
    }

    static func sheet(_ rows: [[String]]) -> String {
        var xml = #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#
        for (r, row) in rows.enumerated() {
            xml += "<row r=\"\(r + 1)\">"
            for (c, value) in row.enumerated() {
                xml += "<c r=\"\(column(c))\(r + 1)\" t=\"inlineStr\"><is><t xml:space=\"preserve\">\(xmlText(value))</t></is></c>"
            }
            xml += "</row>"
        }
        return xml + "</sheetData></worksheet>"
    }

    /// 0 → A, 25 → Z, 26 → AA.
    static func column(_ index: Int) -> String {
        var n = index + 1, name = ""
        while n > 0 { name = String(UnicodeScalar(UInt8(65 + (n - 1) % 26))) + name; n = (n - 1) / 26 }
        return name
    }

    // MARK: - ZIP (stored entries)

    static func zipStored(_ files: [(name: String, data: Data)]) -> Data {
        var out = Data(), central = Data()
        for f in files {
            let name = Data(f.name.utf8), crc = crc32(f.data), offset = UInt32(out.count)
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21)
            out += le32(crc) + le32(UInt32(f.data.count)) + le32(UInt32(f.data.count)) + le16(UInt16(name.count)) + le16(0)
            out += name + f.data
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21)
            central += le32(crc) + le32(UInt32(f.data.count)) + le32(UInt32(f.data.count)) + le16(UInt16(name.count))
            central += le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + name
        }
        let start = UInt32(out.count)
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(UInt16(files.count)) + le16(UInt16(files.count))
        out += le32(UInt32(central.count)) + le32(start) + le16(0)
        return out
    }

    static func le16(_ v: UInt16) -> Data { Data([UInt8(v & 0xff), UInt8(v >> 8)]) }
    static func le32(_ v: UInt32) -> Data { Data((0..<4).map { UInt8((v >> (8 * $0)) & 0xff) }) }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ data: Data) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for b in data { c = crcTable[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xffff_ffff
    }
}

extension MMBench {
    /// The reference's upload sheet (`convert_mmbench_for_submission.py`): the TSV's columns
    /// without hint, category, source, image, comment and l2-category, a `prediction` column
    /// inserted at position 6, each row's first-round answer in it.
    public static func submission(_ table: TSVTable, answers: [String: EvaluationAnswer]) throws -> Data {
        let dropped: Set<String> = ["hint", "category", "source", "image", "comment", "l2-category"]
        var columns = table.columns.filter { !dropped.contains($0) }
        columns.insert("prediction", at: min(6, columns.count))
        let rows = table.rows.map { _, row in
            columns.map { c in
                c == "prediction" ? (answers["\(Int(row["index"]?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1)/0"]?.text ?? "") : (row[c] ?? "")
            }
        }
        return XLSXWriter.workbook(rows: [columns] + rows)
    }
}
