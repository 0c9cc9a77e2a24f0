import Foundation

/// One tensor of a safetensors header: its type, shape and byte range within the data
/// section (which starts right after the header).
struct SafetensorsHeaderEntry {
    let name: String
    let dtype: SafetensorsDType
    let shape: [Int]
    let begin: Int
    let end: Int

    var json: [String: Any] { ["dtype": dtype.rawValue, "shape": shape, "data_offsets": [begin, end]] }
}

/// The JSON header both writers put at the start of a safetensors file.
enum SafetensorsHeader {
    /// The header text, keys sorted, padded with spaces (which the format allows after the
    /// JSON) to `length` bytes, or to the next multiple of 8 when `length` is nil, so the
    /// data section starts 8-byte aligned.
    static func encode(_ entries: [SafetensorsHeaderEntry], metadata: [String: String], paddedTo length: Int? = nil) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        for e in entries { header[e.name] = e.json }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let target = length ?? (json.count + 7) / 8 * 8
        precondition(json.count <= target, "a safetensors header outgrew the space reserved for it")
        json.append(contentsOf: [UInt8](repeating: 0x20, count: target - json.count))
        return json
    }

    /// How many bytes a header member (`"name":{…}` or `"__metadata__":{…}`) takes, so a
    /// writer can tell a header's length before writing it: the object's length is 2 plus
    /// its members' lengths plus one comma between each two, in any key order.
    static func memberLength(_ key: String, _ value: Any) throws -> Int {
        try JSONSerialization.data(withJSONObject: [key: value], options: [.sortedKeys]).count - 2
    }
}
