/// One entry of a merchant's block or allow list: a card fingerprint, an IP, a device id or an
/// email hash.
public struct RiskListEntry: Sendable, Hashable {
    public enum List: String, Sendable, CaseIterable { case block, allow }
    public enum Kind: String, Sendable, CaseIterable { case card, ip, device, email }

    public let merchantID: String
    public let list: List
    public let kind: Kind
    public let value: String
    public let createdAtMs: Int64

    public init(merchantID: String, list: List, kind: Kind, value: String, createdAtMs: Int64) {
        self.merchantID = merchantID
        self.list = list
        self.kind = kind
        self.value = value
        self.createdAtMs = createdAtMs
    }
}
