import LinAlg

/// Scratch buffers of one forward call, sized for the widest of the layers it runs. Raw
/// allocations: the layer code works on pointers, and nothing here needs zeroing.
final class Workspace {
    let residual, spare, normed, qkv, heads, projected, gateUp, gated, scores: UnsafeMutablePointer<Float>
    /// Score scratch of each attention worker (`attentionQueryBlock` × keys).
    let scoresPerWorker: Int

    init(layers: [DecoderLayer], streamWidth: Int, rows n: Int, keys: Int) {
        let d = layers.reduce(streamWidth) { max($0, $1.inputWidth, $1.middleWidth, $1.outputWidth) }
        residual = .allocate(capacity: n * d)
        spare = .allocate(capacity: n * d)
        normed = .allocate(capacity: n * d)
        qkv = .allocate(capacity: n * (layers.map(\.attention.fusedWidth).max() ?? 0))
        heads = .allocate(capacity: n * (layers.map(\.attention.outputInputWidth).max() ?? 0))
        projected = .allocate(capacity: n * d)
        let mlpWidth = layers.map(\.mlp.width).max() ?? 0
        gateUp = .allocate(capacity: n * 2 * mlpWidth)
        gated = .allocate(capacity: n * mlpWidth)
        scoresPerWorker = attentionQueryBlock * keys
        scores = .allocate(capacity: max(1, BLASThreads.count) * scoresPerWorker)
    }

    deinit { [residual, spare, normed, qkv, heads, projected, gateUp, gated, scores].forEach { $0.deallocate() } }

    /// The residual stream holding a copy of `states`.
    func stream(holding states: Matrix<Float>) -> ResidualStream {
        states.elements.withUnsafeBufferPointer { residual.update(from: $0.baseAddress!, count: $0.count) }
        return stream(rows: states.rows, width: states.cols)
    }

    /// The residual stream, `rows` × `width` values in `residual`.
    func stream(rows: Int, width: Int) -> ResidualStream {
        ResidualStream(values: residual, spare: spare, rows: rows, width: width)
    }

    /// `rows` × `width` values starting at `buffer`, copied out.
    func copy(_ buffer: UnsafeMutablePointer<Float>, rows: Int, width: Int) -> Matrix<Float> {
        Matrix(rows: rows, cols: width, elements: Array(UnsafeBufferPointer(start: buffer, count: rows * width)))
    }
}

/// The residual stream of a forward call: `rows` × `width` values. Its width changes only
/// at SliceGPT's shortcut matrices, which write into the spare buffer and swap.
struct ResidualStream {
    var values: UnsafeMutablePointer<Float>
    var spare: UnsafeMutablePointer<Float>
    let rows: Int
    var width: Int

    /// x ← x·Sᵀ, S of shape [new width, width].
    mutating func apply(shortcut: Matrix<Float>) {
        precondition(shortcut.cols == width, "shortcut reads \(shortcut.cols) values, the stream has \(width)")
        shortcut.elements.withUnsafeBufferPointer { s in
            Float.gemm(transposeA: false, transposeB: true, m: rows, n: shortcut.rows, k: width, alpha: 1, a: values, lda: width,
                       b: s.baseAddress!, ldb: width, beta: 0, c: spare, ldc: shortcut.rows)
        }
        swap(&values, &spare)
        width = shortcut.rows
    }

    func copy() -> Matrix<Float> {
        Matrix(rows: rows, cols: width, elements: Array(UnsafeBufferPointer(start: values, count: rows * width)))
    }
}
