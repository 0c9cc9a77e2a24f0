import Foundation
import H5Store
import TestSupport
import XCTest

final class SHA256Tests: XCTestCase {
    func testStandardVectors() {
        XCTAssertEqual(SHA256.hex(of: Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(of: Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testStreamingInUnevenPiecesEqualsOneShot() {
        let data = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 * 31) })
        var hasher = SHA256()
        var offset = 0
        for piece in [1, 63, 64, 65, 7, 500, 300] {
            hasher.update(data[offset..<min(offset + piece, data.count)])
            offset += piece
        }
        XCTAssertEqual(hasher.finalizeHex(), SHA256.hex(of: data))
    }

    func testFileHashMatchesSha256sum() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data((0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761) }).write(to: url)
        guard let tool = findExecutable(["/usr/bin/sha256sum"]) else { throw XCTSkip("no sha256sum") }
        let expected = try runProgram(tool, [url.path]).stdout.split(separator: " ").first.map(String.init)
        XCTAssertEqual(try SHA256.hex(ofFile: url.path), expected)
    }
}
