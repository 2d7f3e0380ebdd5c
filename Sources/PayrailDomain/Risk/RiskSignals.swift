/// What the risk engine knows about one payment attempt: facts from the request and the card,
/// and counts derived from recent traffic (sliding windows kept by the core). Every signal has a
/// name that rules use (`RiskSignals.Name`); booleans are 0 or 1.
public struct RiskSignals: Sendable, Equatable {
    public enum Name: String, Sendable, CaseIterable {
        case amountMinor = "amount_minor"
        /// Amount divided by the merchant's usual amount in that currency (1 when unknown).
        case amountRatio = "amount_ratio"
        case cardCount1m = "card_count_1m"
        case cardCount1h = "card_count_1h"
        case cardCount24h = "card_count_24h"
        case ipCount1m = "ip_count_1m"
        case ipCount1h = "ip_count_1h"
        /// Different cards seen from this IP in the last hour (card testing).
        case ipDistinctCards1h = "ip_distinct_cards_1h"
        /// Declined attempts from this IP in the last hour.
        case ipDeclines1h = "ip_declines_1h"
        case deviceCount1h = "device_count_1h"
        case deviceDistinctCards24h = "device_distinct_cards_24h"
        case emailCount24h = "email_count_24h"
        case emailDistinctCards24h = "email_distinct_cards_24h"
        case merchantCount1m = "merchant_count_1m"
        /// The IP's country differs from the card's issuing country (both known).
        case ipCountryMismatch = "ip_country_mismatch"
        /// The billing country differs from the card's issuing country (both known).
        case billingCountryMismatch = "billing_country_mismatch"
        /// The card has not been seen in the last 24 hours.
        case firstSeenCard = "first_seen_card"
    }

    /// Values by ``Name`` (raw value order of `Name.allCases`).
    public var values: [Double]

    public init() { values = Array(repeating: 0, count: Name.allCases.count) }

    public subscript(_ name: Name) -> Double {
        get { values[name.index] }
        set { values[name.index] = newValue }
    }
}

extension RiskSignals.Name {
    /// Position in ``RiskSignals/values``.
    public var index: Int {
        switch self {
        case .amountMinor: 0
        case .amountRatio: 1
        case .cardCount1m: 2
        case .cardCount1h: 3
        case .cardCount24h: 4
        case .ipCount1m: 5
        case .ipCount1h: 6
        case .ipDistinctCards1h: 7
        case .ipDeclines1h: 8
        case .deviceCount1h: 9
        case .deviceDistinctCards24h: 10
        case .emailCount24h: 11
        case .emailDistinctCards24h: 12
        case .merchantCount1m: 13
        case .ipCountryMismatch: 14
        case .billingCountryMismatch: 15
        case .firstSeenCard: 16
        }
    }
}

/// What the merchant tells us about the buyer, all optional. Email arrives hashed
/// (SHA-256 of the trimmed, lowercased address) so it is never stored in clear.
public struct RiskContext: Sendable, Equatable, Hashable {
    public var clientIP: String?
    public var deviceID: String?
    public var emailHash: String?
    public var billingCountry: String?

    public init(clientIP: String? = nil, deviceID: String? = nil, emailHash: String? = nil, billingCountry: String? = nil) {
        self.clientIP = clientIP
        self.deviceID = deviceID
        self.emailHash = emailHash
        self.billingCountry = billingCountry
    }
}
