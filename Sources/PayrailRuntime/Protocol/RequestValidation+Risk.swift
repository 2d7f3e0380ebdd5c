import PayrailDomain
import PayrailProtos

extension RequestValidation {
    /// A merchant's customer reference: empty (none) or 1-64 printable ASCII characters.
    public static func customerID(_ value: String, field: String = "customer_id") throws(PayrailError) -> String? {
        guard !value.isEmpty else { return nil }
        guard value.utf8.count <= 64, value.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw PayrailError(.invalidRequest, "customer_id must be 1-64 printable ASCII characters", field: field)
        }
        return value
    }

    public static func eraseCustomer(_ request: Payrail_V1_EraseCustomerRequest) throws(PayrailError) -> String {
        guard let customer = try customerID(request.customerID) else {
            throw PayrailError(.missingField, "customer_id is required", field: "customer_id")
        }
        return customer
    }

    public struct Review: Sendable {
        public let idempotencyKey: String
        public let paymentID: String
        public let approve: Bool
        public let note: String
    }

    public static func review(_ request: Payrail_V1_ReviewPaymentRequest) throws(PayrailError) -> Review {
        Review(idempotencyKey: try FieldRules.idempotencyKey(request.idempotencyKey), paymentID: try paymentID(request.paymentID),
               approve: request.approve, note: try FieldRules.text(request.note, maxLength: RequestLimits.reasonLengthMax, field: "note"))
    }

    /// A list, kind and value of a risk list request, checked: values are what the fraud check
    /// compares (fingerprint, IPv4/IPv6, device id, email SHA-256).
    public static func riskListEntry(_ list: Payrail_V1_RiskList, _ kind: Payrail_V1_RiskListKind,
                                     _ value: String) throws(PayrailError) -> (RiskListEntry.List, RiskListEntry.Kind, String) {
        let parsedList: RiskListEntry.List
        switch list {
        case .block: parsedList = .block
        case .allow: parsedList = .allow
        default: throw PayrailError(.invalidRequest, "list must be RISK_LIST_BLOCK or RISK_LIST_ALLOW", field: "list")
        }
        guard !value.isEmpty else { throw PayrailError(.missingField, "value is required", field: "value") }
        let parsedKind: RiskListEntry.Kind
        switch kind {
        case .card:
            guard value.utf8.count <= 128, value.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != 0x7C }) else {
                throw PayrailError(.invalidRequest, "a card entry is a card fingerprint (CardSummary.fingerprint)", field: "value")
            }
            parsedKind = .card
        case .ip:
            _ = try FieldRules.riskContext(RiskContext(clientIP: value))
            parsedKind = .ip
        case .device:
            _ = try FieldRules.riskContext(RiskContext(deviceID: value))
            parsedKind = .device
        case .email:
            _ = try FieldRules.riskContext(RiskContext(emailHash: value))
            parsedKind = .email
        default: throw PayrailError(.invalidRequest, "kind must be card, ip, device or email", field: "kind")
        }
        return (parsedList, parsedKind, value)
    }

    public static func proto(_ entry: RiskListEntry) -> Payrail_V1_RiskListEntry {
        .with {
            $0.list = entry.list == .block ? .block : .allow
            switch entry.kind {
            case .card: $0.kind = .card
            case .ip: $0.kind = .ip
            case .device: $0.kind = .device
            case .email: $0.kind = .email
            }
            $0.value = entry.value
            $0.createdAtUnixMs = entry.createdAtMs
        }
    }
}
