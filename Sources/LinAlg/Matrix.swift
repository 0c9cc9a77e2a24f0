/// A dense row-major matrix. Element (r, c) lives at `elements[r * cols + c]`.
/// The element-wise members are `@inlinable` so that other modules specialise them for
/// Float or Double; unspecialised, every element copy goes through a value witness.
public struct Matrix<Scalar: BLASScalar>: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    public var elements: [Scalar]

    @inlinable
    public init(rows: Int, cols: Int, repeating value: Scalar = 0) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        elements = Array(repeating: value, count: rows * cols)
    }

    @inlinable
    public init(rows: Int, cols: Int, elements: [Scalar]) {
        precondition(elements.count == rows * cols,
                     "\(elements.count) elements do not fill a \(rows)×\(cols) matrix")
        self.rows = rows
        self.cols = cols
        self.elements = elements
    }

    /// Builds a matrix from nested rows, e.g. `Matrix([[1, 2], [3, 4]])`.
    public init(_ nestedRows: [[Scalar]]) {
        let width = nestedRows.first?.count ?? 0
        precondition(nestedRows.allSatisfy { $0.count == width }, "ragged rows")
        self.init(rows: nestedRows.count, cols: width, elements: nestedRows.flatMap { $0 })
    }

    @inlinable
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, cols: n)
        for i in 0..<n { m.elements[i * n + i] = 1 }
        return m
    }

    @inlinable
    public subscript(row: Int, col: Int) -> Scalar {
        get { elements[row * cols + col] }
        set { elements[row * cols + col] = newValue }
    }

    public var shape: (rows: Int, cols: Int) { (rows, cols) }

    @inlinable
    public var transposed: Matrix {
        var t = Matrix(rows: cols, cols: rows)
        elements.withUnsafeBufferPointer { src in
            t.elements.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rows {
                    for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] }
                }
            }
        }
        return t
    }

    @inlinable
    public var diagonal: [Scalar] { (0..<min(rows, cols)).map { self[$0, $0] } }

    /// The sub-matrix made of the given rows, in the given order.
    @inlinable
    public func selectingRows(_ indices: [Int]) -> Matrix {
        var out = Matrix(rows: indices.count, cols: cols)
        for (i, r) in indices.enumerated() {
            out.elements.replaceSubrange(i * cols..<(i + 1) * cols, with: elements[r * cols..<(r + 1) * cols])
        }
        return out
    }

    /// The sub-matrix of the given rows and columns, in the given orders, gathered in one
    /// pass (selecting rows and then columns would first copy whole rows).
    @inlinable
    public func submatrix(rows rowIndices: [Int], columns columnIndices: [Int]) -> Matrix {
        var out = Matrix(rows: rowIndices.count, cols: columnIndices.count)
        let n = columnIndices.count
        elements.withUnsafeBufferPointer { src in
            out.elements.withUnsafeMutableBufferPointer { dst in
                for (i, r) in rowIndices.enumerated() {
                    for (j, c) in columnIndices.enumerated() { dst[i * n + j] = src[r * cols + c] }
                }
            }
        }
        return out
    }

    /// The sub-matrix made of the given columns, in the given order.
    @inlinable
    public func selectingColumns(_ indices: [Int]) -> Matrix {
        var out = Matrix(rows: rows, cols: indices.count)
        let n = indices.count
        elements.withUnsafeBufferPointer { src in
            out.elements.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rows {
                    for (j, c) in indices.enumerated() { dst[r * n + j] = src[r * cols + c] }
                }
            }
        }
        return out
    }

    /// Frobenius norm, accumulated in Double.
    @inlinable
    public var frobeniusNorm: Double {
        elements.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    @inlinable
    public var isFinite: Bool { elements.allSatisfy { $0.isFinite } }
}

extension Matrix {
    @inlinable
    public static func - (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.rows == rhs.rows && lhs.cols == rhs.cols, "shape mismatch in subtraction")
        return Matrix(rows: lhs.rows, cols: lhs.cols, elements: zip(lhs.elements, rhs.elements).map { $0 - $1 })
    }

    @inlinable
    public static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.rows == rhs.rows && lhs.cols == rhs.cols, "shape mismatch in addition")
        return Matrix(rows: lhs.rows, cols: lhs.cols, elements: zip(lhs.elements, rhs.elements).map { $0 + $1 })
    }
}

extension Matrix where Scalar == Float {
    /// The same matrix in Double precision.
    public var asDouble: Matrix<Double> { Matrix<Double>(rows: rows, cols: cols, elements: elements.map(Double.init)) }
}

extension Matrix where Scalar == Double {
    /// The same matrix rounded to Float precision.
    public var asFloat: Matrix<Float> { Matrix<Float>(rows: rows, cols: cols, elements: elements.map(Float.init)) }
}
