import Datasets
import XCTest

/// A task list that names nothing, or a task twice, is a mistake: before, `--tasks ""`
/// ran no task and reported success.
final class TaskListTests: XCTestCase {
    func testEmptyDoubledAndRepeatedNamesAreRefused() {
        for (list, culprit) in [("", ""), ("piqa,,boolq", ""), ("piqa,", ""), ("piqa,boolq,piqa", "piqa")] {
            XCTAssertThrowsError(try ZeroShotTask.parseList(list), list) { error in
                XCTAssertEqual((error as? TaskFileError)?.path, culprit, "\(list): \(error)")
            }
        }
        XCTAssertEqual(try ZeroShotTask.parseList("piqa,boolq"), [.piqa, .boolq])
        XCTAssertEqual(try ZeroShotTask.parseList("all").count, 7)
    }
}
