import PayrailDomain
import PayrailStore

extension IdempotencyRecord {
    /// Refuses a key reused for another request (another operation, or the same one with a
    /// different body): the typed error every idempotent call answers with (docs/idempotency.md).
    func requireSameRequest(operation: String, fingerprint: String) throws(PayrailError) {
        guard self.operation == operation, self.fingerprint == fingerprint else {
            throw PayrailError(.idempotencyKeyReused, "idempotency key was already used for a different request; use a new key for a new request",
                               field: "idempotency_key")
        }
    }
}
