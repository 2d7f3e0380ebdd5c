import Crypto

/// The `Payrail-Signature` header of a webhook delivery, and how a merchant checks it.
///
/// Format: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, with one `v1` per
/// signing secret while a rotated-out secret is still in its overlap window. A receiver accepts
/// the delivery when any `v1` matches its secret (compared in constant time) and the timestamp
/// is within a tolerance of its clock, which stops an attacker replaying an old delivery.
public enum WebhookSignature {
    /// The HTTP header carrying the signature.
    public static let headerName = "Payrail-Signature"
    /// The default replay window: five minutes either side of the receiver's clock.
    public static let defaultToleranceSeconds: Int64 = 300

    /// Why a delivery was refused.
    public enum VerificationError: Error, Equatable, Sendable {
        /// The header is missing parts or is not in the `t=...,v1=...` format.
        case malformedHeader
        /// No `v1` signature matches the secret: the body was changed or the secret is wrong.
        case signatureMismatch
        /// The timestamp is further from now than the tolerance: a replay or a badly wrong clock.
        case timestampOutsideTolerance(signedAt: Int64, now: Int64)
    }

    /// The header value for `body` signed at `timestamp` with each of `secrets`.
    public static func header(timestamp: Int64, body: some Collection<UInt8>, secrets: [String]) -> String {
        var value = "t=\(timestamp)"
        for secret in secrets {
            value += ",v1=" + hex(signature(timestamp: timestamp, body: body, secret: secret))
        }
        return value
    }

    /// HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
    public static func signature(timestamp: Int64, body: some Collection<UInt8>, secret: String) -> [UInt8] {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Array(secret.utf8)))
        mac.update(data: Array("\(timestamp).".utf8))
        mac.update(data: Array(body))
        return Array(mac.finalize())
    }

    /// Checks a delivery: returns the signed timestamp, or throws why it must be refused.
    /// - Parameters:
    ///   - body: the raw request body, exactly as received (before any JSON parsing).
    ///   - header: the `Payrail-Signature` header value.
    ///   - secret: this endpoint's signing secret (`whsec_...`).
    ///   - now: the receiver's clock, in unix seconds.
    @discardableResult
    public static func verify(body: some Collection<UInt8>, header: String, secret: String, now: Int64,
                              toleranceSeconds: Int64 = defaultToleranceSeconds) throws(VerificationError) -> Int64 {
        var timestamp: Int64?
        var candidates: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { throw .malformedHeader }
            let key = pair[0].trimmingSpaces, value = pair[1].trimmingSpaces
            switch key {
            case "t":
                guard timestamp == nil, let parsed = Int64(value) else { throw .malformedHeader }
                timestamp = parsed
            case "v1":
                guard let bytes = unhex(value), bytes.count == SHA256.byteCount else { throw .malformedHeader }
                candidates.append(bytes)
            default:
                continue // other schemes, ignored so new ones can be added
            }
        }
        guard let timestamp, !candidates.isEmpty else { throw .malformedHeader }
        let expected = signature(timestamp: timestamp, body: body, secret: secret)
        var matched = false
        for candidate in candidates where constantTimeEqual(candidate, expected) { matched = true }
        guard matched else { throw .signatureMismatch }
        guard abs(now - timestamp) <= toleranceSeconds else { throw .timestampOutsideTolerance(signedAt: timestamp, now: now) }
        return timestamp
    }

    /// Compares without stopping at the first difference, so timing does not reveal how much
    /// of a forged signature was right.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var result = self
        while result.first == " " { result = result.dropFirst() }
        while result.last == " " { result = result.dropLast() }
        return result
    }
}
