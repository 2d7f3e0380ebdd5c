/// A ledger account: who it belongs to, what it holds, and its currency. Accounts are
/// identified by a stable text key such as `merchant:acct_1:test:pending:USD`, so they need
/// no registration before the first posting.
///
/// Sign convention for the whole ledger: a debit is a positive entry, a credit a negative
/// one; every transaction's entries sum to zero per currency. Liability accounts (what we
/// owe merchants) therefore carry negative balances.
public struct LedgerAccount: Hashable, Sendable, CustomStringConvertible, Comparable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// Authorized, not captured: owed to the merchant once captured (liability).
        case merchantPending = "pending"
        /// Captured and owed to the merchant (liability).
        case merchantAvailable = "available"
        /// Authorizations outstanding at a processor (asset, contra to merchant pending).
        case processorAuthorizations = "authorizations"
        /// Captured funds the processor will settle to us (asset).
        case processorReceivable = "receivable"
        /// Funds held back from a merchant as security against disputes (liability).
        case merchantReserve = "reserve"
        /// Paid out to the merchant's bank, not yet confirmed (liability).
        case payoutsInTransit = "payouts_in_transit"
        /// Our revenue from processing and dispute fees.
        case feeRevenue = "fee_revenue"
        /// Where one currency is exchanged for another: balanced per currency by construction.
        case fxClearing = "fx_clearing"
        /// Our revenue from the FX markup.
        case fxRevenue = "fx_revenue"
        /// Money in the platform's bank accounts (asset).
        case cash = "cash"

        /// Who owns accounts of this kind: a merchant, a processor, or the platform itself.
        public var scope: String {
            switch self {
            case .merchantPending, .merchantAvailable, .merchantReserve, .payoutsInTransit: "merchant"
            case .processorAuthorizations, .processorReceivable: "processor"
            case .feeRevenue, .fxClearing, .fxRevenue, .cash: "platform"
            }
        }
    }

    public let kind: Kind
    /// The merchant id or the connector name.
    public let owner: String
    /// For merchant accounts: whether the account holds live or test money.
    public let livemode: Bool
    public let currency: Currency

    public init(kind: Kind, owner: String, livemode: Bool, currency: Currency) {
        self.kind = kind
        self.owner = owner
        self.livemode = livemode
        self.currency = currency
    }

    public static func merchantPending(_ merchantID: String, livemode: Bool, _ currency: Currency) -> LedgerAccount {
        LedgerAccount(kind: .merchantPending, owner: merchantID, livemode: livemode, currency: currency)
    }
    public static func merchantAvailable(_ merchantID: String, livemode: Bool, _ currency: Currency) -> LedgerAccount {
        LedgerAccount(kind: .merchantAvailable, owner: merchantID, livemode: livemode, currency: currency)
    }
    public static func processorAuthorizations(_ connector: String, livemode: Bool, _ currency: Currency) -> LedgerAccount {
        LedgerAccount(kind: .processorAuthorizations, owner: connector, livemode: livemode, currency: currency)
    }
    public static func processorReceivable(_ connector: String, livemode: Bool, _ currency: Currency) -> LedgerAccount {
        LedgerAccount(kind: .processorReceivable, owner: connector, livemode: livemode, currency: currency)
    }
    public static func merchantReserve(_ merchantID: String, livemode: Bool, _ currency: Currency) -> LedgerAccount {
        LedgerAccount(kind: .merchantReserve, owner: merchantID, livemode: livemode, currency: currency)
    }
    public static func payoutsInTransit(_ merchantID: String, livemode: Bool, _ currency: Currency) -> LedgerAccount {
        LedgerAccount(kind: .payoutsInTransit, owner: merchantID, livemode: livemode, currency: currency)
    }
    /// A platform account (fee revenue, FX clearing, FX revenue, cash).
    public static func platform(_ kind: Kind, livemode: Bool, _ currency: Currency) -> LedgerAccount {
        precondition(kind.scope == "platform", "not a platform account kind")
        return LedgerAccount(kind: kind, owner: "payrail", livemode: livemode, currency: currency)
    }

    /// The stable key stored with every entry.
    public var key: String {
        "\(kind.scope):\(owner):\(livemode ? "live" : "test"):\(kind.rawValue):\(currency.code)"
    }

    /// Parses a key written by ``key``; nil for anything else.
    public init?(key: String) {
        let parts = key.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 5, let kind = Kind(rawValue: String(parts[3])),
              let currency = Currency(code: String(parts[4])), parts[2] == "live" || parts[2] == "test" else { return nil }
        guard parts[0] == kind.scope, !parts[1].isEmpty else { return nil }
        self.init(kind: kind, owner: String(parts[1]), livemode: parts[2] == "live", currency: currency)
    }

    public var description: String { key }
    public static func < (lhs: LedgerAccount, rhs: LedgerAccount) -> Bool { lhs.key < rhs.key }
}
