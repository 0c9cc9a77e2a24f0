import Foundation

/// Runs independent tasks on `BLASThreads.count` workers. Tasks are handed out in index
/// order from a shared counter, so callers list expensive tasks first to balance the load;
/// which worker runs a task never changes its result.
public enum Workers {
    /// Calls `body(task, worker)` once for every task in 0..<tasks; `worker` (below
    /// `width(for:)`) lets a task use per-worker scratch memory.
    public static func run(tasks: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        let workers = width(for: tasks)
        guard workers > 1 else {
            for task in 0..<tasks { body(task, 0) }
            return
        }
        let next = TaskCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            while let task = next.take(below: tasks) { body(task, worker) }
        }
    }

    /// How many workers `run` uses for `tasks` tasks.
    public static func width(for tasks: Int) -> Int { max(1, min(BLASThreads.count, tasks)) }

    /// The row ranges of `rows` rows cut into tiles of at least `minimumRows`, for
    /// row-independent work (norms, activations) spread with `run`.
    public static func rowTiles(_ rows: Int, minimumRows: Int = 64) -> [Range<Int>] {
        let tiles = max(1, min(4 * BLASThreads.count, rows / max(1, minimumRows)))
        let size = (rows + tiles - 1) / tiles
        return stride(from: 0, to: rows, by: max(1, size)).map { $0..<min(rows, $0 + size) }
    }
}

/// The next task index, shared by the workers of one `Workers.run`.
private final class TaskCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func take(below count: Int) -> Int? {
        lock.withLock {
            guard next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }
}
