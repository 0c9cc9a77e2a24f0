/// How the products of a block of Float rows are formed before they join the float64 sum.
public enum BlockProducts: Sendable {
    /// Rows converted to Double, products by dsyrk/dgemm: exact sums of exact products.
    case float64
    /// Products by ssyrk/sgemm over blocks of rows, each block's result added into the float64
    /// sum: about 4× faster; a block's rounding (relative ~1e-6 for 1,024 rows) stays far
    /// below the 1 % damping every method applies. For the widest covariances (MLP channels).
    case float32
}

/// Accumulates C = Σ_t x_tᵀ x_t in Double over rows x_t that arrive in Float batches.
///
/// Activations are Float; PCA and least squares need the sum in Double. Converting a whole
/// activation matrix to Double would double its memory, so rows are taken in blocks of
/// `blockRows`; each block's product goes through BLAS (`dsyrk` on converted rows, or
/// `ssyrk` on the rows as they are, see `BlockProducts`) and is added to the float64 sum.
/// Only the upper triangle is kept while accumulating; `matrix` returns the full result.
public struct CovarianceAccumulator: Sendable {
    public let dimension: Int
    public let blockRows: Int
    public let products: BlockProducts
    /// Number of rows (tokens) accumulated so far.
    public private(set) var count: Int = 0
    private var upper: [Double]
    private var block: [Double]
    private var floatBlock: [Float]

    public init(dimension: Int, blockRows: Int? = nil, products: BlockProducts = .float64) {
        precondition(dimension > 0 && (blockRows ?? 1) > 0)
        self.dimension = dimension
        self.products = products
        self.blockRows = blockRows ?? (products == .float64 ? 256 : 1024)
        upper = Array(repeating: 0, count: dimension * dimension)
        block = products == .float64 ? Array(repeating: 0, count: self.blockRows * dimension) : []
        floatBlock = products == .float32 ? Array(repeating: 0, count: dimension * dimension) : []
    }

    /// An accumulator that continues from a saved sum (`matrix`) of `count` rows: a resumed
    /// run adds its remaining rows to exactly the bits the interrupted one had.
    public init(continuing sum: Matrix<Double>, count: Int, blockRows: Int? = nil, products: BlockProducts = .float64) {
        precondition(sum.rows == sum.cols && count >= 0)
        self.init(dimension: sum.rows, blockRows: blockRows, products: products)
        upper = sum.elements
        self.count = count
    }

    /// Adds `rows` row vectors stored row-major in `x` (rows × dimension).
    /// Throws `nonFinite` (and adds nothing of the offending block) on NaN or Inf.
    public mutating func add(_ x: UnsafeBufferPointer<Float>, rows: Int, label: String = "activation") throws {
        precondition(x.count >= rows * dimension, "buffer holds \(x.count) values, need \(rows)×\(dimension)")
        try add(x.baseAddress!, rows: rows, stride: dimension, label: label)
    }

    /// Adds `rows` row vectors of `dimension` values, row r at `x + r·stride` (the leading
    /// columns of wider rows, without copying them out).
    public mutating func add(_ x: UnsafePointer<Float>, rows: Int, stride: Int, label: String = "activation") throws {
        precondition(stride >= dimension)
        var start = 0
        while start < rows {
            let b = min(blockRows, rows - start)
            let finite = products == .float64
                ? addConverted(x + start * stride, rows: b, stride: stride)
                : addFloatProducts(x + start * stride, rows: b, stride: stride)
            guard finite else { throw LinAlgError.nonFinite(what: "\(label) rows \(count + start)..<\(count + start + b)") }
            start += b
        }
        count += rows
    }

    private mutating func addConverted(_ src: UnsafePointer<Float>, rows b: Int, stride: Int) -> Bool {
        let n = dimension
        let finite = block.withUnsafeMutableBufferPointer { dst -> Bool in
            var ok = true
            for r in 0..<b {
                for j in 0..<n {
                    let v = Double(src[r * stride + j])
                    dst[r * n + j] = v
                    if !v.isFinite { ok = false }
                }
            }
            return ok
        }
        guard finite else { return false }
        block.withUnsafeBufferPointer { pb in
            upper.withUnsafeMutableBufferPointer { pc in
                Double.syrkTransposed(n: n, k: b, alpha: 1, a: pb.baseAddress!, lda: n, beta: 1, c: pc.baseAddress!, ldc: n)
            }
        }
        return true
    }

    /// A NaN or Inf anywhere in the block makes its own square on the diagonal non-finite.
    private mutating func addFloatProducts(_ src: UnsafePointer<Float>, rows b: Int, stride: Int) -> Bool {
        let n = dimension
        return floatBlock.withUnsafeMutableBufferPointer { pf in
            Float.syrkTransposed(n: n, k: b, alpha: 1, a: src, lda: stride, beta: 0, c: pf.baseAddress!, ldc: n)
            for i in 0..<n where !pf[i * n + i].isFinite { return false }
            // Added into the float64 sum on the workers, by bands of rows of equal triangle
            // area (each element's sum is the same whatever the bands).
            let bands = Self.triangleBands(n)
            upper.withUnsafeMutableBufferPointer { pc in
                Workers.run(tasks: bands.count) { t, _ in
                    for r in bands[t] { for c in r..<n { pc[r * n + c] += Double(pf[r * n + c]) } }
                }
            }
            return true
        }
    }

    /// Row ranges of an n×n upper triangle holding about equal numbers of elements.
    static func triangleBands(_ n: Int) -> [Range<Int>] {
        let count = max(1, min(4 * BLASThreads.count, n / 64))
        var bands: [Range<Int>] = [], start = 0
        for b in 1...count {
            // Rows 0..<r hold n² − (n − r)² halves; solve for the b-th share.
            let end = b == count ? n : n - Int((Double(n * n) * Double(count - b) / Double(count)).squareRoot().rounded())
            if end > start { bands.append(start..<end) }
            start = max(start, end)
        }
        return bands
    }

    public mutating func add(_ x: Matrix<Float>, label: String = "activation") throws {
        precondition(x.cols == dimension, "rows have \(x.cols) columns, accumulator has \(dimension)")
        try x.elements.withUnsafeBufferPointer { try add($0, rows: x.rows, label: label) }
    }

    /// Adds Double rows directly (no conversion needed).
    public mutating func add(_ x: Matrix<Double>, label: String = "activation") throws {
        precondition(x.cols == dimension, "rows have \(x.cols) columns, accumulator has \(dimension)")
        guard x.isFinite else { throw LinAlgError.nonFinite(what: "\(label) rows \(count)..<\(count + x.rows)") }
        guard x.rows > 0 else { return }
        x.elements.withUnsafeBufferPointer { px in
            upper.withUnsafeMutableBufferPointer { pc in
                Double.syrkTransposed(n: dimension, k: x.rows, alpha: 1, a: px.baseAddress!, lda: dimension,
                                      beta: 1, c: pc.baseAddress!, ldc: dimension)
            }
        }
        count += x.rows
    }

    /// Adds another accumulator's sum (e.g. one filled on another thread or shard).
    public mutating func merge(_ other: CovarianceAccumulator) {
        precondition(other.dimension == dimension, "merging accumulators of different dimension")
        for i in upper.indices { upper[i] += other.upper[i] }
        count += other.count
    }

    /// The symmetric sum Σ xᵀx (not divided by the count).
    public var matrix: Matrix<Double> {
        var m = Matrix<Double>(rows: dimension, cols: dimension, elements: upper)
        m.mirrorUpperToLower()
        return m
    }
}

/// Accumulates R = Σ_t x_tᵀ y_t in Double for paired Float rows x_t (width m) and y_t
/// (width n), e.g. compressed and original activations for a least-squares fit; blocks of
/// rows as in `CovarianceAccumulator`, each block's product by `dgemm` or `sgemm`.
public struct CrossProductAccumulator: Sendable {
    public let leftDimension: Int
    public let rightDimension: Int
    public let blockRows: Int
    public let products: BlockProducts
    public private(set) var count: Int = 0
    private var sum: [Double]
    private var left: [Double] = []
    private var right: [Double] = []
    private var floatBlock: [Float] = []

    public init(leftDimension: Int, rightDimension: Int, blockRows: Int? = nil, products: BlockProducts = .float64) {
        precondition(leftDimension > 0 && rightDimension > 0 && (blockRows ?? 1) > 0)
        self.leftDimension = leftDimension
        self.rightDimension = rightDimension
        self.products = products
        self.blockRows = blockRows ?? (products == .float64 ? 256 : 1024)
        sum = Array(repeating: 0, count: leftDimension * rightDimension)
        if products == .float64 {
            left = Array(repeating: 0, count: self.blockRows * leftDimension)
            right = Array(repeating: 0, count: self.blockRows * rightDimension)
        } else {
            floatBlock = Array(repeating: 0, count: leftDimension * rightDimension)
        }
    }

    /// Adds Σ xᵀy over `rows` rows of x (rows × m) and y (rows × n). Throws on NaN or Inf.
    public mutating func add(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, rows: Int, label: String = "activation") throws {
        let m = leftDimension, n = rightDimension
        precondition(x.count >= rows * m && y.count >= rows * n, "buffers too small for \(rows) rows")
        var start = 0
        while start < rows {
            let b = min(blockRows, rows - start)
            let px = x.baseAddress! + start * m, py = y.baseAddress! + start * n
            var finite = true
            for i in 0..<(b * m) where !px[i].isFinite { finite = false; break }
            for i in 0..<(b * n) where !py[i].isFinite { finite = false; break }
            guard finite else { throw LinAlgError.nonFinite(what: "\(label) rows \(count + start)..<\(count + start + b)") }
            switch products {
            case .float64:
                left.withUnsafeMutableBufferPointer { dst in for i in 0..<(b * m) { dst[i] = Double(px[i]) } }
                right.withUnsafeMutableBufferPointer { dst in for i in 0..<(b * n) { dst[i] = Double(py[i]) } }
                left.withUnsafeBufferPointer { pl in
                    right.withUnsafeBufferPointer { pr in
                        sum.withUnsafeMutableBufferPointer { ps in
                            Double.gemm(transposeA: true, transposeB: false, m: m, n: n, k: b, alpha: 1, a: pl.baseAddress!, lda: m,
                                        b: pr.baseAddress!, ldb: n, beta: 1, c: ps.baseAddress!, ldc: n)
                        }
                    }
                }
            case .float32:
                floatBlock.withUnsafeMutableBufferPointer { pf in
                    Float.gemm(transposeA: true, transposeB: false, m: m, n: n, k: b, alpha: 1, a: px, lda: m,
                               b: py, ldb: n, beta: 0, c: pf.baseAddress!, ldc: n)
                    sum.withUnsafeMutableBufferPointer { ps in for i in 0..<(m * n) { ps[i] += Double(pf[i]) } }
                }
            }
            start += b
        }
        count += rows
    }

    public mutating func add(_ x: Matrix<Float>, _ y: Matrix<Float>, label: String = "activation") throws {
        precondition(x.rows == y.rows && x.cols == leftDimension && y.cols == rightDimension, "paired rows do not match the accumulator")
        try x.elements.withUnsafeBufferPointer { px in
            try y.elements.withUnsafeBufferPointer { py in try add(px, py, rows: x.rows, label: label) }
        }
    }

    /// Σ xᵀy, [m, n].
    public var matrix: Matrix<Double> { Matrix(rows: leftDimension, cols: rightDimension, elements: sum) }
}
