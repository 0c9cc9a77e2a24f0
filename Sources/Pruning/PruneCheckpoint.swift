import Foundation
import LinAlg
import ModelIO
import Transformer

/// Where a prune stands after a finished layer, so that a run killed part-way (even by
/// kill -9) resumes at the next layer and ends bit-identical to an uninterrupted run: the
/// whole model as the method has changed it so far, the calibration stream entering the
/// next layer, the statistics recorded, and whatever else the method carries from layer
/// to layer. Values are stored as their exact bits.
public struct PruneState {
    public var nextLayer: Int
    public var model: TransformerModel
    public var flowStates: GroupedRows
    public var statistics: PruningStatistics
    /// A method's own state between layers (SliceGPT's current basis, say), by name.
    public var extras: [String: Matrix<Double>]
}

/// The checkpoints of one prune: a folder beside the destination holding the latest
/// `PruneState`, keyed by everything that decides the numbers (a changed command starts
/// afresh). A state is written to new files and the manifest renamed over the old one
/// last, so a kill at any moment leaves the previous complete state or the new one.
public final class PruneCheckpoints {
    public let folder: URL
    public let key: String
    /// At most one state per this many seconds: writing the model and the calibration
    /// stream after every layer would cost more than it saves on small models.
    let minimumInterval: Double
    private var lastSave = monotonicSeconds()

    static let manifestName = "state.json"

    public init(folder: URL, key: String, minimumInterval: Double = 30) {
        self.folder = folder
        self.key = key
        self.minimumInterval = minimumInterval
    }

    /// The layer a saved state for this key continues at, if there is one.
    public var savedNextLayer: Int? { savedManifest?.nextLayer }

    private var savedManifest: Manifest? {
        let manifestURL = folder.appendingPathComponent(Self.manifestName)
        guard FileManager.default.fileExists(atPath: manifestURL.path),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: RegularFile.read(manifestURL.path)),
              manifest.key == key,
              // A state saved before statistics were kept by capture site is not continued.
              manifest.statistics.allSatisfy({ CaptureSite(rawValue: $0.site) != nil }) else { return nil }
        return manifest
    }

    /// The saved state, restored onto `original` (the unpruned model the run started from),
    /// or nil when there is none for this key; its calibration stream goes to `spill` when
    /// the run spills.
    public func restore(onto original: TransformerModel, spill: SpillArea? = nil) throws -> PruneState? {
        guard let manifest = savedManifest else { return nil }
        let blob = try MappedFile(path: folder.appendingPathComponent(manifest.blob).path)
        guard blob.count == manifest.blobBytes else {
            throw PruningError("\(folder.path): the saved state is \(blob.count) bytes, its manifest says \(manifest.blobBytes); delete the folder")
        }
        let reader = BlobReader(blob: blob)
        var model = original
        try manifest.model.restore(onto: &model, from: reader)
        return PruneState(nextLayer: manifest.nextLayer, model: model,
                          flowStates: try GroupedRows(count: manifest.flowStates.count, spill: spill) { try reader.floatMatrix(manifest.flowStates[$0]) },
                          statistics: PruningStatistics(entries: try manifest.statistics.map {
                              guard let site = CaptureSite(rawValue: $0.site) else {
                                  throw PruningError("\(folder.path): the saved state names an unknown site '\($0.site)'; delete the folder")
                              }
                              return PruningStatistics.Entry(layer: $0.layer, site: site, name: $0.name, values: try reader.doubles($0.values),
                                                             isInteger: $0.isInteger ?? false, shape: $0.shape)
                          }),
                          extras: try manifest.extras.mapValues { try reader.doubleMatrix($0) })
    }

    /// Saves the state after a finished layer, unless one was saved less than
    /// `minimumInterval` seconds ago (the last layer is never saved: the folder follows).
    public func save(_ state: @autoclosure () throws -> PruneState, layerCount: Int) throws {
        let now = monotonicSeconds()
        guard now - lastSave >= minimumInterval else { return }
        let state = try state()
        guard state.nextLayer < layerCount else { return }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let blob = "state-\(state.nextLayer).bin"
        let writer = try BlobWriter(path: folder.appendingPathComponent(blob).path)
        var manifest = Manifest(
            key: key, nextLayer: state.nextLayer, blob: blob, blobBytes: 0,
            model: ModelSnapshot(state.model, into: writer),
            flowStates: try state.flowStates.indices.map { writer.add(try state.flowStates.group($0)) },
            statistics: state.statistics.entries.map {
                .init(layer: $0.layer, site: $0.site.rawValue, name: $0.name, values: writer.add($0.values), isInteger: $0.isInteger, shape: $0.shape)
            },
            extras: state.extras.mapValues { writer.add($0) })
        try writer.finish()
        manifest.blobBytes = writer.bytesWritten
        try install(manifest, as: Self.manifestName)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        where name.hasPrefix("state-") && name.hasSuffix(".bin") && name != manifest.blob {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
        lastSave = monotonicSeconds()
    }

    /// The allocation's gradient pass after `progress.windowsDone` windows (its own blob and
    /// manifest): at most every `minimumInterval` seconds, and always once it is complete,
    /// so that a run killed while pruning does not run it again.
    func saveAllocation(_ progress: ImportanceProgress, complete: Bool) throws {
        guard complete || monotonicSeconds() - lastSave >= minimumInterval else { return }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let blob = "allocation-\(progress.windowsDone).bin"
        let writer = try BlobWriter(path: folder.appendingPathComponent(blob).path)
        var manifest = AllocationManifest(key: key, windowsDone: progress.windowsDone, blob: blob, blobBytes: 0,
                                          arrays: progress.arrays.mapValues { writer.add($0) })
        try writer.finish()
        manifest.blobBytes = writer.bytesWritten
        try install(manifest, as: Self.allocationManifestName)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        where name.hasPrefix("allocation-") && name.hasSuffix(".bin") && name != blob {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
        lastSave = monotonicSeconds()
    }

    /// The saved gradient pass for this key, if there is one.
    func restoreAllocation() throws -> ImportanceProgress? {
        let url = folder.appendingPathComponent(Self.allocationManifestName)
        guard FileManager.default.fileExists(atPath: url.path),
              let manifest = try? JSONDecoder().decode(AllocationManifest.self, from: RegularFile.read(url.path)), manifest.key == key else {
            return nil
        }
        let blob = try MappedFile(path: folder.appendingPathComponent(manifest.blob).path)
        guard blob.count == manifest.blobBytes else {
            throw PruningError("\(blob.path): \(blob.count) bytes, its manifest says \(manifest.blobBytes); delete \(folder.path) to start afresh")
        }
        let reader = BlobReader(blob: blob)
        return ImportanceProgress(windowsDone: manifest.windowsDone, arrays: try manifest.arrays.mapValues { try reader.doubles($0) })
    }

    static let allocationManifestName = "allocation.json"

    struct AllocationManifest: Codable {
        var key: String
        var windowsDone: Int
        var blob: String
        var blobBytes: Int
        var arrays: [String: BlobRef]
    }

    /// A streamed prune hands each finished layer to its output and drops it, and the output
    /// of a killed run is lost; so each finished layer is also saved here (its own blob and
    /// manifest, before the state that counts it) for a resumed run to hand over again.
    public func saveFinishedLayer(_ index: Int, _ layer: DecoderLayer) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let blob = "layer-\(index).bin"
        let writer = try BlobWriter(path: folder.appendingPathComponent(blob).path)
        var manifest = LayerManifest(key: key, layer: index, blob: blob, blobBytes: 0, weights: ModelSnapshot.Layer(layer, into: writer))
        try writer.finish()
        manifest.blobBytes = writer.bytesWritten
        try install(manifest, as: "layer-\(index).json")
    }

    /// Finished layer `index` of the saved run, put onto `original` (that layer unpruned).
    public func finishedLayer(_ index: Int, onto original: DecoderLayer) throws -> DecoderLayer {
        let url = folder.appendingPathComponent("layer-\(index).json")
        guard let manifest = try? JSONDecoder().decode(LayerManifest.self, from: RegularFile.read(url.path)),
              manifest.key == key, manifest.layer == index else {
            throw PruningError("\(url.path): the saved state lacks finished layer \(index); delete \(folder.path) to start afresh")
        }
        let blob = try MappedFile(path: folder.appendingPathComponent(manifest.blob).path)
        guard blob.count == manifest.blobBytes else {
            throw PruningError("\(blob.path): \(blob.count) bytes, its manifest says \(manifest.blobBytes); delete \(folder.path) to start afresh")
        }
        var layer = original
        try manifest.weights.restore(onto: &layer, from: BlobReader(blob: blob))
        return layer
    }

    /// Writes a manifest beside its blob under a temporary name and renames it into place,
    /// so that a reader finds the previous manifest or the whole new one.
    private func install<M: Encodable>(_ manifest: M, as name: String) throws {
        let temporary = folder.appendingPathComponent(".\(name).tmp")
        try JSONEncoder().encode(manifest).write(to: temporary)
        guard rename(temporary.path, folder.appendingPathComponent(name).path) == 0 else {
            throw PruningError("\(folder.path): cannot save the prune's state: \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the checkpoints once the pruned folder is in place.
    public func remove() { try? FileManager.default.removeItem(at: folder) }

    struct Manifest: Codable {
        var key: String
        var nextLayer: Int
        var blob: String
        var blobBytes: Int
        var model: ModelSnapshot
        var flowStates: [BlobRef]
        var statistics: [StatisticsEntry]
        var extras: [String: BlobRef]
    }

    struct LayerManifest: Codable {
        var key: String
        var layer: Int
        var blob: String
        var blobBytes: Int
        var weights: ModelSnapshot.Layer
    }

    struct StatisticsEntry: Codable {
        var layer: Int
        var site: String
        var name: String
        var values: BlobRef
        /// Absent in states saved before indices were stored as integers.
        var isInteger: Bool?
        var shape: [Int]?
    }
}

/// Every weight and shape of a `TransformerModel` that a method can change, as references
/// into the blob; restored onto a copy of the model the run started from.
struct ModelSnapshot: Codable {
    struct Layer: Codable {
        var numHeads, numKVHeads, qkHeadDim, vHeadDim: Int
        var kvHeadOfQueryHead: [Int]
        var ropeInverseFrequencies, wqkv, wo, attentionNorm, mlpNorm, wGateUp, wDown: BlobRef
        var scale: Float
        var bqkv, qNorm, kNorm, postAttentionNorm, postMLPNorm, attentionShortcut, mlpShortcut: BlobRef?
    }

    var embedding, finalNorm: BlobRef
    var lmHead: BlobRef?
    var residualNormDivisor: Int?
    /// nil for a streamed model's unloaded layer (its weights are in the source, or saved
    /// apart once finished).
    var layers: [Layer?]

    init(_ model: TransformerModel, into writer: BlobWriter) {
        embedding = writer.add(model.embedding)
        finalNorm = writer.add(model.finalNorm)
        lmHead = model.lmHead.map(writer.add)
        residualNormDivisor = model.residualNormDivisor
        layers = model.layers.map { $0.isUnloaded ? nil : Layer($0, into: writer) }
    }

    func restore(onto model: inout TransformerModel, from reader: BlobReader) throws {
        guard layers.count == model.layers.count else { throw PruningError("the saved state has \(layers.count) layers, the model \(model.layers.count)") }
        model.embedding = try reader.floatMatrix(embedding)
        model.finalNorm = try reader.floats(finalNorm)
        model.lmHead = try lmHead.map(reader.floatMatrix)
        model.residualNormDivisor = residualNormDivisor
        for (index, saved) in layers.enumerated() { try saved?.restore(onto: &model.layers[index], from: reader) }
    }
}

extension ModelSnapshot.Layer {
    init(_ layer: DecoderLayer, into writer: BlobWriter) {
        let a = layer.attention
        self.init(numHeads: a.numHeads, numKVHeads: a.numKVHeads, qkHeadDim: a.qkHeadDim, vHeadDim: a.vHeadDim,
                  kvHeadOfQueryHead: a.kvHeadOfQueryHead, ropeInverseFrequencies: writer.add(a.ropeInverseFrequencies),
                  wqkv: writer.add(a.wqkv), wo: writer.add(a.wo), attentionNorm: writer.add(layer.attentionNorm),
                  mlpNorm: writer.add(layer.mlpNorm), wGateUp: writer.add(layer.mlp.wGateUp), wDown: writer.add(layer.mlp.wDown),
                  scale: a.scale, bqkv: a.bqkv.map(writer.add), qNorm: a.qNorm.map(writer.add), kNorm: a.kNorm.map(writer.add),
                  postAttentionNorm: layer.postAttentionNorm.map(writer.add), postMLPNorm: layer.postMLPNorm.map(writer.add),
                  attentionShortcut: layer.attentionShortcut.map(writer.add), mlpShortcut: layer.mlpShortcut.map(writer.add))
    }

    /// Puts the saved weights and shapes onto `layer` (the unpruned layer they came from).
    func restore(onto layer: inout DecoderLayer, from reader: BlobReader) throws {
        layer.attention.numHeads = numHeads
        layer.attention.numKVHeads = numKVHeads
        layer.attention.qkHeadDim = qkHeadDim
        layer.attention.vHeadDim = vHeadDim
        layer.attention.kvHeadOfQueryHead = kvHeadOfQueryHead
        layer.attention.ropeInverseFrequencies = try reader.floats(ropeInverseFrequencies)
        layer.attention.scale = scale
        layer.attention.wqkv = try reader.floatMatrix(wqkv)
        layer.attention.bqkv = try bqkv.map(reader.floats)
        layer.attention.qNorm = try qNorm.map(reader.floats)
        layer.attention.kNorm = try kNorm.map(reader.floats)
        layer.attention.wo = try reader.floatMatrix(wo)
        layer.attentionNorm = try reader.floats(attentionNorm)
        layer.postAttentionNorm = try postAttentionNorm.map(reader.floats)
        layer.mlpNorm = try reader.floats(mlpNorm)
        layer.mlp.wGateUp = try reader.floatMatrix(wGateUp)
        layer.mlp.wDown = try reader.floatMatrix(wDown)
        layer.postMLPNorm = try postMLPNorm.map(reader.floats)
        layer.attentionShortcut = try attentionShortcut.map(reader.floatMatrix)
        layer.mlpShortcut = try mlpShortcut.map(reader.floatMatrix)
    }
}

/// Where an array lies in the blob: byte offset, shape (rows, columns; a vector has one
/// row) and whether its elements are Float or Double.
struct BlobRef: Codable {
    var offset: Int
    var rows: Int
    var cols: Int
    var double: Bool
}

/// Writes arrays' exact bytes to a file as they come (the model and the calibration
/// stream are too large to gather in memory first).
final class BlobWriter {
    let path: String
    private let fd: Int32
    private(set) var bytesWritten = 0
    private var failure: Int32 = 0

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PruningError("\(path): cannot create: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    func add(_ values: [Float]) -> BlobRef { append(values, rows: 1, cols: values.count, double: false) }
    func add(_ values: [Double]) -> BlobRef { append(values, rows: 1, cols: values.count, double: true) }
    func add(_ m: Matrix<Float>) -> BlobRef { append(m.elements, rows: m.rows, cols: m.cols, double: false) }
    func add(_ m: Matrix<Double>) -> BlobRef { append(m.elements, rows: m.rows, cols: m.cols, double: true) }

    private func append<T>(_ values: [T], rows: Int, cols: Int, double: Bool) -> BlobRef {
        let ref = BlobRef(offset: bytesWritten, rows: rows, cols: cols, double: double)
        values.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count && failure == 0 {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno != EINTR { failure = errno } } else { done += n }
            }
        }
        bytesWritten += values.count * MemoryLayout<T>.stride
        return ref
    }

    /// Flushes to disk; throws if any write failed (a full disk, say).
    func finish() throws {
        guard failure == 0, fsync(fd) == 0 else {
            throw PruningError("\(path): cannot write the prune's state: \(String(cString: strerror(failure != 0 ? failure : errno)))")
        }
    }
}

/// Reads arrays back from a mapped blob, checking every reference against its end.
struct BlobReader {
    let blob: MappedFile

    private func read<T>(_ ref: BlobRef, as: T.Type, double: Bool) throws -> [T] {
        let count = ref.rows * ref.cols, bytes = count * MemoryLayout<T>.stride
        guard ref.double == double, ref.rows >= 0, ref.cols >= 0, ref.offset >= 0, ref.offset + bytes <= blob.count else {
            throw PruningError("\(blob.path): the saved state is damaged; delete its folder to start afresh")
        }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(start: blob.base + ref.offset, count: bytes))
            initialized = count
        }
    }

    func floats(_ ref: BlobRef) throws -> [Float] { try read(ref, as: Float.self, double: false) }
    func doubles(_ ref: BlobRef) throws -> [Double] { try read(ref, as: Double.self, double: true) }
    func floatMatrix(_ ref: BlobRef) throws -> Matrix<Float> { Matrix(rows: ref.rows, cols: ref.cols, elements: try floats(ref)) }
    func doubleMatrix(_ ref: BlobRef) throws -> Matrix<Double> { Matrix(rows: ref.rows, cols: ref.cols, elements: try doubles(ref)) }
}
