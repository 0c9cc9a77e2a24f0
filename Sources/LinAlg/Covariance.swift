/// Accumulates C = Σ_t x_tᵀ x_t in Double over rows x_t that arrive in Float batches.
///
/// Activations are Float; PCA and least squares need the sum in Double. Converting a whole
/// activation matrix to Double would double its memory, so rows are converted in blocks of
/// `blockRows` into one reusable buffer and each block goes to `dsyrk`. Only the upper
/// triangle is kept while accumulating; `matrix` returns the full symmetric result.
public struct CovarianceAccumulator: Sendable {
    public let dimension: Int
    public let blockRows: Int
    /// Number of rows (tokens) accumulated so far.
    public private(set) var count: Int = 0
    private var upper: [Double]
    private var block: [Double]

    public init(dimension: Int, blockRows: Int = 256) {
        precondition(dimension > 0 && blockRows > 0)
        self.dimension = dimension
        self.blockRows = blockRows
        upper = Array(repeating: 0, count: dimension * dimension)
        block = Array(repeating: 0, count: blockRows * dimension)
    }

    /// Adds `rows` row vectors stored row-major in `x` (rows × dimension).
    /// Throws `nonFinite` (and adds nothing of the offending block) on NaN or Inf.
    public mutating func add(_ x: UnsafeBufferPointer<Float>, rows: Int, label: String = "activation") throws {
        precondition(x.count >= rows * dimension, "buffer holds \(x.count) values, need \(rows)×\(dimension)")
        let n = dimension
        var start = 0
        while start < rows {
            let b = min(blockRows, rows - start)
            let finite = block.withUnsafeMutableBufferPointer { dst -> Bool in
                var ok = true
                let src = x.baseAddress! + start * n
                for i in 0..<(b * n) {
                    let v = Double(src[i])
                    dst[i] = v
                    if !v.isFinite { ok = false }
                }
                return ok
            }
            guard finite else { throw LinAlgError.nonFinite(what: "\(label) rows \(count + start)..<\(count + start + b)") }
            accumulate(blockRowsCount: b)
            start += b
        }
        count += rows
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

    private mutating func accumulate(blockRowsCount b: Int) {
        let n = dimension
        block.withUnsafeBufferPointer { pb in
            upper.withUnsafeMutableBufferPointer { pc in
                Double.syrkTransposed(n: n, k: b, alpha: 1, a: pb.baseAddress!, lda: n,
                                      beta: 1, c: pc.baseAddress!, ldc: n)
            }
        }
    }
}

/// Accumulates R = Σ_t x_tᵀ y_t in Double for paired Float rows x_t (width m) and y_t
/// (width n), e.g. compressed and original activations for a least-squares fit; rows are
/// converted in blocks, as in `CovarianceAccumulator`, and each block goes to `dgemm`.
public struct CrossProductAccumulator: Sendable {
    public let leftDimension: Int
    public let rightDimension: Int
    public let blockRows: Int
    public private(set) var count: Int = 0
    private var sum: [Double]
    private var left: [Double]
    private var right: [Double]

    public init(leftDimension: Int, rightDimension: Int, blockRows: Int = 256) {
        precondition(leftDimension > 0 && rightDimension > 0 && blockRows > 0)
        self.leftDimension = leftDimension
        self.rightDimension = rightDimension
        self.blockRows = blockRows
        sum = Array(repeating: 0, count: leftDimension * rightDimension)
        left = Array(repeating: 0, count: blockRows * leftDimension)
        right = Array(repeating: 0, count: blockRows * rightDimension)
    }

    /// Adds Σ xᵀy over `rows` rows of x (rows × m) and y (rows × n). Throws on NaN or Inf.
    public mutating func add(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, rows: Int, label: String = "activation") throws {
        let m = leftDimension, n = rightDimension
        precondition(x.count >= rows * m && y.count >= rows * n, "buffers too small for \(rows) rows")
        var start = 0
        while start < rows {
            let b = min(blockRows, rows - start)
            var finite = true
            left.withUnsafeMutableBufferPointer { dst in
                let src = x.baseAddress! + start * m
                for i in 0..<(b * m) { dst[i] = Double(src[i]); if !dst[i].isFinite { finite = false } }
            }
            right.withUnsafeMutableBufferPointer { dst in
                let src = y.baseAddress! + start * n
                for i in 0..<(b * n) { dst[i] = Double(src[i]); if !dst[i].isFinite { finite = false } }
            }
            guard finite else { throw LinAlgError.nonFinite(what: "\(label) rows \(count + start)..<\(count + start + b)") }
            left.withUnsafeBufferPointer { pl in
                right.withUnsafeBufferPointer { pr in
                    sum.withUnsafeMutableBufferPointer { ps in
                        Double.gemm(transposeA: true, transposeB: false, m: m, n: n, k: b, alpha: 1, a: pl.baseAddress!, lda: m,
                                    b: pr.baseAddress!, ldb: n, beta: 1, c: ps.baseAddress!, ldc: n)
                    }
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
