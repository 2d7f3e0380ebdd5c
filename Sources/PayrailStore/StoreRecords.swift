import PayrailDomain

/// A merchant account on the platform.
public struct MerchantRecord: Hashable, Sendable {
    public var id: String
    public var name: String
    public var createdAtMs: Int64
    /// The currency the merchant is paid in; nil = each payment settles in its own currency.
    public var settlementCurrency: Currency?
    public init(id: String, name: String, createdAtMs: Int64, settlementCurrency: Currency? = nil) {
        self.id = id
        self.name = name
        self.createdAtMs = createdAtMs
        self.settlementCurrency = settlementCurrency
    }
}

/// An API key as stored: its public id and the SHA-256 of its secret, never the secret.
public struct APIKeyRecord: Hashable, Sendable {
    public var id: String
    public var merchantID: String
    public var secretSHA256: [UInt8]
    public var livemode: Bool
    public var createdAtMs: Int64
    public var revokedAtMs: Int64?
    public init(id: String, merchantID: String, secretSHA256: [UInt8], livemode: Bool, createdAtMs: Int64, revokedAtMs: Int64? = nil) {
        self.id = id
        self.merchantID = merchantID
        self.secretSHA256 = secretSHA256
        self.livemode = livemode
        self.createdAtMs = createdAtMs
        self.revokedAtMs = revokedAtMs
    }
}

/// The durable record of one idempotent request: the authority on whether a retry must
/// replay a finished answer, wait for a running one, or resume an abandoned one.
public struct IdempotencyRecord: Hashable, Sendable {
    public enum State: String, Hashable, Sendable {
        /// Started; `lockedUntilMs` says how long its owner holds it.
        case inProgress = "in_progress"
        /// Finished; `response` is the answer every retry receives.
        case completed
    }

    public var merchantID: String
    public var key: String
    /// The operation ("create_payment", "capture_payment", ...): the same key may not be
    /// reused for a different operation.
    public var operation: String
    /// SHA-256 of the request's canonical form (hex).
    public var fingerprint: String
    public var state: State
    public var lockedUntilMs: Int64
    /// The payment or refund the request created or changed.
    public var resourceID: String?
    /// The serialized response, replayed byte for byte.
    public var response: [UInt8]?
    public var createdAtMs: Int64
    public var updatedAtMs: Int64

    public init(merchantID: String, key: String, operation: String, fingerprint: String, state: State, lockedUntilMs: Int64,
                resourceID: String?, response: [UInt8]?, createdAtMs: Int64, updatedAtMs: Int64) {
        self.merchantID = merchantID
        self.key = key
        self.operation = operation
        self.fingerprint = fingerprint
        self.state = state
        self.lockedUntilMs = lockedUntilMs
        self.resourceID = resourceID
        self.response = response
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }
}

/// A card in the vault: the summary everyone may see, and the PAN encrypted under its own
/// data key, which is itself wrapped by a key-encryption key of `keyVersion`.
public struct VaultedCardRecord: Hashable, Sendable {
    public var summary: CardSummary
    public var merchantID: String
    public var sealedPAN: [UInt8]
    public var wrappedDataKey: [UInt8]
    public var keyVersion: Int
    public var createdAtMs: Int64
    /// The merchant's reference for the cardholder, for erasure requests.
    public var customerRef: String?
    /// Set when the card was erased (its data key destroyed): the PAN can never be read again.
    public var erasedAtMs: Int64?
    public init(summary: CardSummary, merchantID: String, sealedPAN: [UInt8], wrappedDataKey: [UInt8], keyVersion: Int, createdAtMs: Int64,
                customerRef: String? = nil, erasedAtMs: Int64? = nil) {
        self.summary = summary
        self.merchantID = merchantID
        self.sealedPAN = sealedPAN
        self.wrappedDataKey = wrappedDataKey
        self.keyVersion = keyVersion
        self.createdAtMs = createdAtMs
        self.customerRef = customerRef
        self.erasedAtMs = erasedAtMs
    }
}

/// One detokenization: who read which card's PAN, when and why. Append-only.
public struct VaultAccess: Hashable, Sendable {
    public var token: String
    public var merchantID: String
    /// The component that read it, e.g. `connector:cardsim`.
    public var actor: String
    /// Why, e.g. `authorize pay_...`.
    public var purpose: String
    public var atMs: Int64
    public init(token: String, merchantID: String, actor: String, purpose: String, atMs: Int64) {
        self.token = token
        self.merchantID = merchantID
        self.actor = actor
        self.purpose = purpose
        self.atMs = atMs
    }
}

/// Position in a newest-first listing of payments.
public struct PaymentCursor: Hashable, Sendable {
    public var createdAtMs: Int64
    public var paymentID: String
    public init(createdAtMs: Int64, paymentID: String) {
        self.createdAtMs = createdAtMs
        self.paymentID = paymentID
    }
}

/// A failure of the store itself (not of the business rules).
public enum StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Someone else changed the row since it was read (optimistic concurrency).
    case conflict(String)
    /// The database refused a statement; the text is the engine's, never row data.
    case database(String)
    /// A stored row does not decode into a valid domain value.
    case corrupt(String)

    public var description: String {
        switch self {
        case .conflict(let what): "conflict: \(what)"
        case .database(let what): "database error: \(what)"
        case .corrupt(let what): "corrupt row: \(what)"
        }
    }
}
