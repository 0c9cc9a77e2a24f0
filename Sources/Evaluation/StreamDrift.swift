import Foundation
import LinAlg

/// How far rows of a pruned model's activations are from the dense model's on the same
/// tokens, summed over calls in float64: the relative error ‖x − x_ref‖_F / ‖x_ref‖_F over
/// all rows, and the mean over rows of the cosine similarity of x_t and x_ref,t.
public struct StreamDrift: Sendable, Equatable {
    private var errorSquares = 0.0, referenceSquares = 0.0, cosineSum = 0.0
    public private(set) var rows = 0

    public init() {}

    /// Adds `rows` rows of `width` values of both (row-major, one row per token).
    public mutating func add(_ x: UnsafePointer<Float>, reference: UnsafePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let a = x + r * width, b = reference + r * width
            var dot = 0.0, aa = 0.0, bb = 0.0, ee = 0.0
            for j in 0..<width {
                let u = Double(a[j]), v = Double(b[j]), e = u - v
                dot += u * v; aa += u * u; bb += v * v; ee += e * e
            }
            errorSquares += ee
            referenceSquares += bb
            cosineSum += aa > 0 && bb > 0 ? dot / (aa.squareRoot() * bb.squareRoot()) : (aa == bb ? 1 : 0)
        }
        self.rows += rows
    }

    public mutating func add(_ x: Matrix<Float>, reference: Matrix<Float>) {
        precondition(x.rows == reference.rows && x.cols == reference.cols, "comparing \(x.rows)×\(x.cols) with \(reference.rows)×\(reference.cols)")
        x.elements.withUnsafeBufferPointer { a in
            reference.elements.withUnsafeBufferPointer { b in add(a.baseAddress!, reference: b.baseAddress!, rows: x.rows, width: x.cols) }
        }
    }

    public var relativeError: Double { referenceSquares > 0 ? (errorSquares / referenceSquares).squareRoot() : (errorSquares > 0 ? .infinity : 0) }
    public var meanCosine: Double { rows > 0 ? cosineSum / Double(rows) : .nan }
}
