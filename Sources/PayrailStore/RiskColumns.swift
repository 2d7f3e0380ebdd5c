import PayrailDomain

/// How a payment's fraud verdict and buyer signals are kept in one text column each. Fields
/// are separated by `|` (the API refuses it in every field that gets here).
enum RiskColumns {
    static func encode(_ risk: RiskDecision?) -> String? {
        risk.map { "\($0.action.rawValue)|\($0.score)|\($0.modelVersion)|\($0.reasons.joined(separator: ","))" }
    }

    static func decodeRisk(_ text: String?) throws -> RiskDecision? {
        guard let text else { return nil }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, let action = RiskAction(rawValue: String(parts[0])), let score = Double(parts[1]) else {
            throw StoreError.corrupt("payment risk")
        }
        return RiskDecision(action: action, score: score, reasons: parts[3].isEmpty ? [] : parts[3].split(separator: ",").map(String.init),
                            modelVersion: String(parts[2]))
    }

    static func encode(_ context: RiskContext?) -> String? {
        context.map { [$0.clientIP, $0.deviceID, $0.emailHash, $0.billingCountry].map { $0 ?? "" }.joined(separator: "|") }
    }

    static func decodeContext(_ text: String?) throws -> RiskContext? {
        guard let text else { return nil }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false).map { $0.isEmpty ? nil : String($0) }
        guard parts.count == 4 else { throw StoreError.corrupt("payment risk context") }
        return RiskContext(clientIP: parts[0], deviceID: parts[1], emailHash: parts[2], billingCountry: parts[3])
    }
}
