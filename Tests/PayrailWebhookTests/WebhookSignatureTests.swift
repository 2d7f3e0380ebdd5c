import PayrailSDK
import Testing

/// The merchant-side verifier: accepts what Payrail signs, refuses anything altered, signed
/// with another secret, or outside the replay window.
@Suite struct WebhookSignatureTests {
    let secret = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    let body = Array(#"{"id":"evt_1","object":"event","type":"payment.succeeded"}"#.utf8)
    let now: Int64 = 1_780_000_000

    @Test func acceptsAValidSignature() throws {
        let header = WebhookSignature.header(timestamp: now, body: body, secrets: [secret])
        #expect(header.hasPrefix("t=\(now),v1="))
        #expect(try WebhookSignature.verify(body: body, header: header, secret: secret, now: now + 10) == now)
    }

    @Test func matchesAnIndependentHMACComputation() {
        // HMAC-SHA256("key", "1.x"), computed with Python's hmac module.
        let header = WebhookSignature.header(timestamp: 1, body: Array("x".utf8), secrets: ["key"])
        #expect(header == "t=1,v1=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec")
    }

    @Test func refusesATamperedBody() {
        let header = WebhookSignature.header(timestamp: now, body: body, secrets: [secret])
        var tampered = body
        tampered[10] ^= 0x01
        #expect(throws: WebhookSignature.VerificationError.signatureMismatch) {
            try WebhookSignature.verify(body: tampered, header: header, secret: secret, now: now)
        }
    }

    @Test func refusesAnotherSecret() {
        let header = WebhookSignature.header(timestamp: now, body: body, secrets: [secret])
        #expect(throws: WebhookSignature.VerificationError.signatureMismatch) {
            try WebhookSignature.verify(body: body, header: header, secret: secret + "0", now: now)
        }
    }

    @Test func refusesStaleAndFutureTimestamps() {
        let header = WebhookSignature.header(timestamp: now, body: body, secrets: [secret])
        #expect(throws: WebhookSignature.VerificationError.timestampOutsideTolerance(signedAt: now, now: now + 301)) {
            try WebhookSignature.verify(body: body, header: header, secret: secret, now: now + 301)
        }
        #expect(throws: WebhookSignature.VerificationError.timestampOutsideTolerance(signedAt: now, now: now - 301)) {
            try WebhookSignature.verify(body: body, header: header, secret: secret, now: now - 301)
        }
        #expect(throws: Never.self) { try WebhookSignature.verify(body: body, header: header, secret: secret, now: now + 300) }
        #expect(throws: Never.self) {
            try WebhookSignature.verify(body: body, header: header, secret: secret, now: now + 3_000, toleranceSeconds: 3_600)
        }
    }

    @Test func aReplayedTimestampCannotBeSwappedIn() {
        // Moving an old signature to a fresh timestamp breaks it: the timestamp is signed.
        let old = WebhookSignature.header(timestamp: now - 3_600, body: body, secrets: [secret])
        let forged = old.replacingOccurrences(of: "t=\(now - 3_600)", with: "t=\(now)")
        #expect(throws: WebhookSignature.VerificationError.signatureMismatch) {
            try WebhookSignature.verify(body: body, header: forged, secret: secret, now: now)
        }
    }

    @Test func duringRotationEitherSecretVerifies() throws {
        let newSecret = "whsec_" + String(repeating: "ab", count: 32)
        let header = WebhookSignature.header(timestamp: now, body: body, secrets: [newSecret, secret])
        #expect(header.components(separatedBy: ",v1=").count == 3)
        try WebhookSignature.verify(body: body, header: header, secret: secret, now: now)
        try WebhookSignature.verify(body: body, header: header, secret: newSecret, now: now)
    }

    @Test func refusesMalformedHeaders() {
        for header in ["", "t=abc,v1=00", "v1=" + String(repeating: "0", count: 64), "t=1", "t=1,v1=zz", "t=1,v1=abcd", "garbage"] {
            #expect(throws: WebhookSignature.VerificationError.malformedHeader, "\(header)") {
                try WebhookSignature.verify(body: body, header: header, secret: secret, now: 1)
            }
        }
    }

    @Test func constantTimeCompare() {
        #expect(WebhookSignature.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!WebhookSignature.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!WebhookSignature.constantTimeEqual([1, 2, 3], [1, 2]))
    }
}
