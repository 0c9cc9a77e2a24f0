/// Failures of the numerical routines, with messages a researcher can act on.
public enum LinAlgError: Error, Equatable, CustomStringConvertible {
    /// Cholesky met a leading minor that is not positive (LAPACK's info).
    case notPositiveDefinite(order: Int, size: Int)
    /// The eigensolver did not converge.
    case eigenNoConvergence(info: Int, size: Int)
    /// NaN or ±Inf in an input that must be finite.
    case nonFinite(what: String)
    /// A LAPACK argument error (a bug in the caller).
    case lapackArgument(routine: String, info: Int)

    public var description: String {
        switch self {
        case let .notPositiveDefinite(order, size):
            return "matrix (\(size)×\(size)) is not positive definite: its leading minor of order \(order) is not positive; increase the damping"
        case let .eigenNoConvergence(info, size):
            return "symmetric eigendecomposition of a \(size)×\(size) matrix did not converge (LAPACK info \(info))"
        case let .nonFinite(what):
            return "\(what) contains NaN or Inf"
        case let .lapackArgument(routine, info):
            return "\(routine): illegal value in argument \(-info)"
        }
    }
}
