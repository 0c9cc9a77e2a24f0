import Foundation

/// `model.safetensors.index.json` of a sharded checkpoint, as HuggingFace writes it:
/// `{"metadata": {"total_size": …}, "weight_map": {tensor name: shard file name}}`.
/// `total_size` counts the tensors' data bytes, not the files' headers.
public struct SafetensorsIndex: Codable, Equatable, Sendable {
    public struct Metadata: Codable, Equatable, Sendable {
        public var totalSize: Int
        enum CodingKeys: String, CodingKey { case totalSize = "total_size" }
    }

    public var metadata: Metadata
    public var weightMap: [String: String]

    enum CodingKeys: String, CodingKey { case metadata, weightMap = "weight_map" }

    public init(totalSize: Int, weightMap: [String: String]) {
        metadata = Metadata(totalSize: totalSize)
        self.weightMap = weightMap
    }

    /// The file's text: keys sorted, so the same checkpoint always gives the same bytes.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
