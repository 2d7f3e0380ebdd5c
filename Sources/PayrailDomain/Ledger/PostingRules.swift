/// The ledger entries each payment flow posts. Pure functions of the payment and the amounts
/// involved; documented with a table in docs/ledger.md.
///
/// Two-phase, as TigerBeetle models card payments: an authorization is a pending hold
/// (processor authorizations / merchant pending), a capture releases the whole hold and posts
/// the captured part (processor receivable / merchant available), a void releases the hold.
public enum PostingRules {
    /// Authorization hold of the full payment amount.
    public static func authorization(_ payment: Payment, transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        let amount = payment.amount.amountMinor
        return make(transactionID, .authorization, payment, nil, nowMs, [
            .debit(.processorAuthorizations(payment.connector, livemode: payment.livemode, payment.amount.currency), amount),
            .credit(.merchantPending(payment.merchantID, livemode: payment.livemode, payment.amount.currency), amount),
        ])
    }

    /// Capture of `capturedMinor` out of an authorization of `authorizedMinor`: the whole
    /// hold is released and the captured part posted; the uncaptured rest simply disappears.
    public static func capture(_ payment: Payment, authorizedMinor: Int64, capturedMinor: Int64,
                               transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        precondition(capturedMinor > 0 && capturedMinor <= authorizedMinor, "capture outside the authorization")
        let currency = payment.amount.currency
        return make(transactionID, .capture, payment, nil, nowMs, [
            .debit(.merchantPending(payment.merchantID, livemode: payment.livemode, currency), authorizedMinor),
            .credit(.processorAuthorizations(payment.connector, livemode: payment.livemode, currency), authorizedMinor),
            .debit(.processorReceivable(payment.connector, livemode: payment.livemode, currency), capturedMinor),
            .credit(.merchantAvailable(payment.merchantID, livemode: payment.livemode, currency), capturedMinor),
        ])
    }

    /// Void: the hold is released in full.
    public static func void(_ payment: Payment, authorizedMinor: Int64, transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        let currency = payment.amount.currency
        return make(transactionID, .void, payment, nil, nowMs, [
            .debit(.merchantPending(payment.merchantID, livemode: payment.livemode, currency), authorizedMinor),
            .credit(.processorAuthorizations(payment.connector, livemode: payment.livemode, currency), authorizedMinor),
        ])
    }

    /// A settled refund: the merchant's available balance pays back through the processor.
    public static func refund(_ payment: Payment, _ refund: Refund, transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        precondition(refund.amount.currency == payment.amount.currency, "refund currency differs from the payment's")
        let currency = payment.amount.currency
        return make(transactionID, .refund, payment, refund.id, nowMs, [
            .debit(.merchantAvailable(payment.merchantID, livemode: payment.livemode, currency), refund.amount.amountMinor),
            .credit(.processorReceivable(payment.connector, livemode: payment.livemode, currency), refund.amount.amountMinor),
        ])
    }

    private static func make(_ id: String, _ kind: LedgerTransactionKind, _ payment: Payment, _ refundID: String?,
                             _ nowMs: Int64, _ entries: [LedgerEntry]) -> LedgerTransaction {
        do {
            return try LedgerTransaction(id: id, kind: kind, resourceID: payment.id, refundID: refundID, entries: entries, createdAtMs: nowMs)
        } catch {
            // The rules above balance by construction; an unbalanced result is a bug.
            preconditionFailure("posting rule \(kind) produced an invalid transaction: \(error)")
        }
    }
}
