import PayrailDomain

/// How both stores keep an endpoint's list-valued fields in one text column each. Secrets are
/// `whsec_` + hex and event types are `a.b` names, so neither contains the separators.
enum WebhookColumns {
    static func encode(eventTypes: [String]) -> String { eventTypes.joined(separator: ",") }

    static func decodeEventTypes(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }

    /// `value|createdAtMs|expiresAtMs-or-empty`, separated by `;`.
    static func encode(secrets: [WebhookEndpoint.Secret]) -> String {
        secrets.map { "\($0.value)|\($0.createdAtMs)|\($0.expiresAtMs.map(String.init) ?? "")" }.joined(separator: ";")
    }

    static func decodeSecrets(_ text: String) throws -> [WebhookEndpoint.Secret] {
        try text.split(separator: ";").map { item in
            let parts = item.split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 3, let created = Int64(parts[1]) else { throw StoreError.corrupt("webhook endpoint secrets") }
            return WebhookEndpoint.Secret(value: String(parts[0]), createdAtMs: created, expiresAtMs: Int64(parts[2]))
        }
    }
}
