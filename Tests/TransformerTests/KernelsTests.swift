import Foundation
@testable import Transformer
import XCTest

final class KernelsTests: XCTestCase {
    func testVectorExpIsAccurateOverTheWholeRange() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0037 })
            let e = exp8(lanes)
            for i in 0..<8 {
                let exact = Foundation.exp(Double(lanes[i]))
                worst = max(worst, abs(Double(e[i]) - exact) / exact)
            }
            x += 0.0913
        }
        XCTAssertLessThan(worst, 3e-7, "relative error of exp8 against libm in Double")
        // Far below the range the result flushes towards zero instead of wrapping around.
        XCTAssertLessThan(exp8(SIMD8(repeating: -1000))[0], 1e-37)
    }

    func testLargestFindsTheMaximumInLanesAndTail() {
        for count in [0, 3, 8, 19, 37] {
            for position in 0..<max(count, 1) {
                var row = (0..<count).map { Float(($0 * 5) % 11) - 20 }
                if count > 0 { row[position] = 7.5 }
                let expected = count == 0 ? -Float.infinity : 7.5
                XCTAssertEqual(row.withUnsafeBufferPointer { largest($0.baseAddress!, count: count) }, expected, "count \(count), at \(position)")
            }
        }
        let masked = [Float](repeating: -.infinity, count: 12)
        XCTAssertEqual(masked.withUnsafeBufferPointer { largest($0.baseAddress!, count: 12) }, -.infinity)
    }

    func testSoftmaxAndLogSumExpAgainstDouble() {
        var row: [Float] = (0..<37).map { Float($0 % 7) * 1.3 - 4 }
        let reference = row.map(Double.init)
        let m = reference.max()!
        let total = reference.reduce(0) { $0 + exp($1 - m) }
        XCTAssertEqual(row.withUnsafeBufferPointer { logSumExp($0.baseAddress!, count: 37).value }, m + log(total), accuracy: 1e-6)
        row.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, count: 37) }
        for i in 0..<37 { XCTAssertEqual(Double(row[i]), exp(reference[i] - m) / total, accuracy: 1e-7) }
    }
}
