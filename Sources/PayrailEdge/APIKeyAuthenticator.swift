import Crypto
import GRPCCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import Synchronization

/// Authenticates merchants at the edge. The presented key is hashed here (the secret goes no
/// further than this process); the core answers which merchant owns it, and the answer is
/// cached for a short time so most calls need no round trip. Cached hashes are compared in
/// constant time as well.
public final class APIKeyAuthenticator: Sendable {
    private struct Entry {
        var secretSHA256: [UInt8]
        var context: Payrail_Internal_V1_CallContext
        var expiresAtMs: Int64
    }

    private let cache = Mutex<[String: Entry]>([:])
    private let cacheTTLMs: Int64
    private let cacheEntriesMax = 100_000
    private let now: @Sendable () -> Int64
    private let lookUp: @Sendable (Payrail_Internal_V1_AuthenticateAPIKeyRequest) async throws -> Payrail_Internal_V1_AuthenticateAPIKeyResponse

    public init(cacheTTLMs: Int64 = 30_000, now: @escaping @Sendable () -> Int64,
                lookUp: @escaping @Sendable (Payrail_Internal_V1_AuthenticateAPIKeyRequest) async throws -> Payrail_Internal_V1_AuthenticateAPIKeyResponse) {
        self.cacheTTLMs = cacheTTLMs
        self.now = now
        self.lookUp = lookUp
    }

    /// The caller for a request's `authorization: Bearer <key>` metadata.
    public func authenticate(_ metadata: Metadata, edgeID: String, region: String) async throws -> Payrail_Internal_V1_CallContext {
        let refused = PayrailError(.authenticationFailed, "invalid API key: send `authorization: Bearer sk_test_...`")
        guard let header = metadata[stringValues: "authorization"].first(where: { _ in true }), header.hasPrefix("Bearer "),
              let parsed = APIKeyFormat.parse(String(header.dropFirst(7))) else { throw refused }
        let nowMs = now()
        if let entry = cache.withLock({ $0[parsed.keyID] }), entry.expiresAtMs > nowMs {
            guard APIKeyFormat.constantTimeEqual(entry.secretSHA256, parsed.secretSHA256) else { throw refused }
            return entry.context
        }
        let response = try await lookUp(.with {
            $0.keyID = parsed.keyID
            $0.secretSha256 = .init(parsed.secretSHA256)
        })
        guard response.livemode == parsed.livemode else { throw refused }
        let context = Payrail_Internal_V1_CallContext.with {
            $0.merchantID = response.merchantID
            $0.livemode = response.livemode
            $0.apiKeyID = parsed.keyID
            $0.edgeID = edgeID
            $0.region = region
        }
        cache.withLock { cache in
            if cache.count >= cacheEntriesMax { cache.removeAll(keepingCapacity: true) }
            cache[parsed.keyID] = Entry(secretSHA256: parsed.secretSHA256, context: context, expiresAtMs: nowMs + cacheTTLMs)
        }
        return context
    }
}
