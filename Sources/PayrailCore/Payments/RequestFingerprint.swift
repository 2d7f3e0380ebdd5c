import Crypto
import PayrailDomain

/// The canonical fingerprint of a mutating request, so that the same idempotency key with a
/// different body is recognised (and refused) across edges, regions and restarts.
///
/// Built from validated domain values in a fixed order with length-prefixed fields (no
/// ambiguity between "a|b" and "a" + "|b"); the CVC is deliberately left out: a hash of
/// three digits would be a stored CVC.
struct RequestFingerprint {
    private var hasher = SHA256()

    init(operation: String) { add(operation) }

    mutating func add(_ field: String) {
        var length = UInt32(field.utf8.count).bigEndian
        withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
        hasher.update(data: Array(field.utf8))
    }

    mutating func add(_ value: Int64) { add(String(value)) }

    func finalize() -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in hasher.finalize() {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
