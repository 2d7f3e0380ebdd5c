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
        return make(transactionID, .authorization, payment.id, nil, nowMs, [
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
        return make(transactionID, .capture, payment.id, nil, nowMs, [
            .debit(.merchantPending(payment.merchantID, livemode: payment.livemode, currency), authorizedMinor),
            .credit(.processorAuthorizations(payment.connector, livemode: payment.livemode, currency), authorizedMinor),
            .debit(.processorReceivable(payment.connector, livemode: payment.livemode, currency), capturedMinor),
            .credit(.merchantAvailable(payment.merchantID, livemode: payment.livemode, currency), capturedMinor),
        ])
    }

    /// Void: the hold is released in full.
    public static func void(_ payment: Payment, authorizedMinor: Int64, transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        let currency = payment.amount.currency
        return make(transactionID, .void, payment.id, nil, nowMs, [
            .debit(.merchantPending(payment.merchantID, livemode: payment.livemode, currency), authorizedMinor),
            .credit(.processorAuthorizations(payment.connector, livemode: payment.livemode, currency), authorizedMinor),
        ])
    }

    /// A settled refund: the merchant's available balance pays back through the processor.
    public static func refund(_ payment: Payment, _ refund: Refund, transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        precondition(refund.amount.currency == payment.amount.currency, "refund currency differs from the payment's")
        let currency = payment.amount.currency
        return make(transactionID, .refund, payment.id, refund.id, nowMs, [
            .debit(.merchantAvailable(payment.merchantID, livemode: payment.livemode, currency), refund.amount.amountMinor),
            .credit(.processorReceivable(payment.connector, livemode: payment.livemode, currency), refund.amount.amountMinor),
        ])
    }

    /// Capture of a payment presented in one currency and settled to the merchant in another:
    /// the hold is released and the capture posted in the presentment currency into FX
    /// clearing; FX clearing pays the merchant's share and the platform's markup out in the
    /// settlement currency. Each currency sums to zero on its own.
    public static func captureWithConversion(_ payment: Payment, authorizedMinor: Int64, capturedMinor: Int64,
                                             settledToMerchant: Money, markup: Money,
                                             transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        precondition(capturedMinor > 0 && capturedMinor <= authorizedMinor, "capture outside the authorization")
        precondition(settledToMerchant.currency == markup.currency && settledToMerchant.currency != payment.amount.currency,
                     "conversion needs one settlement currency different from the presentment currency")
        precondition(settledToMerchant.amountMinor >= 0 && markup.amountMinor >= 0, "negative conversion legs")
        let presentment = payment.amount.currency
        let settlement = settledToMerchant.currency
        let converted = settledToMerchant.amountMinor + markup.amountMinor
        return make(transactionID, .capture, payment.id, nil, nowMs, [
            .debit(.merchantPending(payment.merchantID, livemode: payment.livemode, presentment), authorizedMinor),
            .credit(.processorAuthorizations(payment.connector, livemode: payment.livemode, presentment), authorizedMinor),
            .debit(.processorReceivable(payment.connector, livemode: payment.livemode, presentment), capturedMinor),
            .credit(.platform(.fxClearing, livemode: payment.livemode, presentment), capturedMinor),
            .debit(.platform(.fxClearing, livemode: payment.livemode, settlement), converted),
            .credit(.merchantAvailable(payment.merchantID, livemode: payment.livemode, settlement), settledToMerchant.amountMinor),
            .credit(.platform(.fxRevenue, livemode: payment.livemode, settlement), markup.amountMinor),
        ])
    }

    /// A refund of a payment that settled through FX: the refund leaves in the presentment
    /// currency, and the merchant gives back its converted share and the platform its markup,
    /// at the payment's settlement rate, through FX clearing.
    public static func refundWithConversion(_ payment: Payment, _ refund: Refund, fromMerchant: Money, markupReturned: Money,
                                            transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        precondition(refund.amount.currency == payment.amount.currency, "refund currency differs from the payment's")
        precondition(fromMerchant.currency == markupReturned.currency && fromMerchant.currency != payment.amount.currency,
                     "conversion needs one settlement currency")
        let presentment = payment.amount.currency
        let settlement = fromMerchant.currency
        return make(transactionID, .refund, payment.id, refund.id, nowMs, [
            .debit(.merchantAvailable(payment.merchantID, livemode: payment.livemode, settlement), fromMerchant.amountMinor),
            .debit(.platform(.fxRevenue, livemode: payment.livemode, settlement), markupReturned.amountMinor),
            .credit(.platform(.fxClearing, livemode: payment.livemode, settlement), fromMerchant.amountMinor + markupReturned.amountMinor),
            .debit(.platform(.fxClearing, livemode: payment.livemode, presentment), refund.amount.amountMinor),
            .credit(.processorReceivable(payment.connector, livemode: payment.livemode, presentment), refund.amount.amountMinor),
        ])
    }

    /// A processing fee charged to the merchant for a payment.
    public static func fee(merchantID: String, livemode: Bool, fee: Money, resourceID: String,
                           transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        make(transactionID, .fee, resourceID, nil, nowMs, [
            .debit(.merchantAvailable(merchantID, livemode: livemode, fee.currency), fee.amountMinor),
            .credit(.platform(.feeRevenue, livemode: livemode, fee.currency), fee.amountMinor),
        ])
    }

    /// A fee given back (an instant payout that could not be delivered).
    public static func feeRefund(merchantID: String, livemode: Bool, fee: Money, resourceID: String,
                                 transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        make(transactionID, .fee, resourceID, nil, nowMs, [
            .debit(.platform(.feeRevenue, livemode: livemode, fee.currency), fee.amountMinor),
            .credit(.merchantAvailable(merchantID, livemode: livemode, fee.currency), fee.amountMinor),
        ])
    }

    /// A chargeback: the network withdraws the disputed funds from what it owes us, and the
    /// merchant bears them plus the dispute fee.
    public static func disputeOpened(merchantID: String, connector: String, livemode: Bool, disputed: Money, disputeFee: Money,
                                     paymentID: String, transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        precondition(disputed.currency == disputeFee.currency, "dispute and fee in one currency")
        return make(transactionID, .disputeOpened, paymentID, nil, nowMs, [
            .debit(.merchantAvailable(merchantID, livemode: livemode, disputed.currency), disputed.amountMinor + disputeFee.amountMinor),
            .credit(.processorReceivable(connector, livemode: livemode, disputed.currency), disputed.amountMinor),
            .credit(.platform(.feeRevenue, livemode: livemode, disputed.currency), disputeFee.amountMinor),
        ])
    }

    /// A dispute won: the network reinstates the funds, and so do we (the fee is not refunded).
    public static func disputeWon(merchantID: String, connector: String, livemode: Bool, reinstated: Money,
                                  paymentID: String, transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        make(transactionID, .disputeWon, paymentID, nil, nowMs, [
            .debit(.processorReceivable(connector, livemode: livemode, reinstated.currency), reinstated.amountMinor),
            .credit(.merchantAvailable(merchantID, livemode: livemode, reinstated.currency), reinstated.amountMinor),
        ])
    }

    /// A chargeback on a payment that settled through FX: the network withdraws the disputed
    /// amount in the presentment currency; the merchant gives back its converted share and the
    /// platform its markup at the payment's settlement rate (as a refund does), and the merchant
    /// pays the fee in its settlement currency.
    public static func disputeOpenedWithConversion(merchantID: String, connector: String, livemode: Bool, disputed: Money,
                                                   fromMerchant: Money, markupReturned: Money, disputeFee: Money,
                                                   paymentID: String, transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        precondition(fromMerchant.currency == markupReturned.currency && fromMerchant.currency == disputeFee.currency
                     && fromMerchant.currency != disputed.currency, "conversion needs one settlement currency")
        let settlement = fromMerchant.currency
        return make(transactionID, .disputeOpened, paymentID, nil, nowMs, [
            .debit(.merchantAvailable(merchantID, livemode: livemode, settlement), fromMerchant.amountMinor + disputeFee.amountMinor),
            .debit(.platform(.fxRevenue, livemode: livemode, settlement), markupReturned.amountMinor),
            .credit(.platform(.fxClearing, livemode: livemode, settlement), fromMerchant.amountMinor + markupReturned.amountMinor),
            .credit(.platform(.feeRevenue, livemode: livemode, settlement), disputeFee.amountMinor),
            .debit(.platform(.fxClearing, livemode: livemode, disputed.currency), disputed.amountMinor),
            .credit(.processorReceivable(connector, livemode: livemode, disputed.currency), disputed.amountMinor),
        ])
    }

    /// A won dispute on a payment that settled through FX: the funds come back the way they went.
    public static func disputeWonWithConversion(merchantID: String, connector: String, livemode: Bool, reinstated: Money,
                                                toMerchant: Money, markup: Money, paymentID: String, transactionID: String,
                                                at nowMs: Int64) -> LedgerTransaction {
        precondition(toMerchant.currency == markup.currency && toMerchant.currency != reinstated.currency, "conversion needs one settlement currency")
        let settlement = toMerchant.currency
        return make(transactionID, .disputeWon, paymentID, nil, nowMs, [
            .debit(.processorReceivable(connector, livemode: livemode, reinstated.currency), reinstated.amountMinor),
            .credit(.platform(.fxClearing, livemode: livemode, reinstated.currency), reinstated.amountMinor),
            .debit(.platform(.fxClearing, livemode: livemode, settlement), toMerchant.amountMinor + markup.amountMinor),
            .credit(.merchantAvailable(merchantID, livemode: livemode, settlement), toMerchant.amountMinor),
            .credit(.platform(.fxRevenue, livemode: livemode, settlement), markup.amountMinor),
        ])
    }

    /// A payout leaves the merchant's available balance and is in transit to their bank.
    public static func payout(merchantID: String, livemode: Bool, amount: Money, payoutID: String,
                              transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        make(transactionID, .payout, payoutID, nil, nowMs, [
            .debit(.merchantAvailable(merchantID, livemode: livemode, amount.currency), amount.amountMinor),
            .credit(.payoutsInTransit(merchantID, livemode: livemode, amount.currency), amount.amountMinor),
        ])
    }

    /// The bank confirmed the payout: the money left our bank account.
    public static func payoutPaid(merchantID: String, livemode: Bool, amount: Money, payoutID: String,
                                  transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        make(transactionID, .payoutPaid, payoutID, nil, nowMs, [
            .debit(.payoutsInTransit(merchantID, livemode: livemode, amount.currency), amount.amountMinor),
            .credit(.platform(.cash, livemode: livemode, amount.currency), amount.amountMinor),
        ])
    }

    /// The payout bounced: the funds return to the merchant's available balance.
    public static func payoutFailed(merchantID: String, livemode: Bool, amount: Money, payoutID: String,
                                    transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        make(transactionID, .payoutFailed, payoutID, nil, nowMs, [
            .debit(.payoutsInTransit(merchantID, livemode: livemode, amount.currency), amount.amountMinor),
            .credit(.merchantAvailable(merchantID, livemode: livemode, amount.currency), amount.amountMinor),
        ])
    }

    /// The processor settled what it owed us into our bank account.
    public static func settlement(connector: String, livemode: Bool, amount: Money, settlementID: String,
                                  transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        make(transactionID, .settlement, settlementID, nil, nowMs, [
            .debit(.platform(.cash, livemode: livemode, amount.currency), amount.amountMinor),
            .credit(.processorReceivable(connector, livemode: livemode, amount.currency), amount.amountMinor),
        ])
    }

    /// Moves funds between a merchant's available balance and its reserve (positive `amount`
    /// holds, `release: true` gives back).
    public static func reserve(merchantID: String, livemode: Bool, amount: Money, release: Bool, resourceID: String,
                               transactionID: String, at nowMs: Int64) -> LedgerTransaction {
        let available = LedgerAccount.merchantAvailable(merchantID, livemode: livemode, amount.currency)
        let reserve = LedgerAccount.merchantReserve(merchantID, livemode: livemode, amount.currency)
        return make(transactionID, release ? .reserveRelease : .reserveHold, resourceID, nil, nowMs, release
            ? [.debit(reserve, amount.amountMinor), .credit(available, amount.amountMinor)]
            : [.debit(available, amount.amountMinor), .credit(reserve, amount.amountMinor)])
    }

    /// Builds the transaction, leaving out zero legs (a zero fee, a zero markup); the rules above
    /// balance by construction, so an invalid result is a bug.
    private static func make(_ id: String, _ kind: LedgerTransactionKind, _ resourceID: String, _ refundID: String?,
                             _ nowMs: Int64, _ entries: [LedgerEntry]) -> LedgerTransaction {
        do {
            return try LedgerTransaction(id: id, kind: kind, resourceID: resourceID, refundID: refundID,
                                         entries: entries.filter { $0.amountMinor != 0 }, createdAtMs: nowMs)
        } catch {
            preconditionFailure("posting rule \(kind) produced an invalid transaction: \(error)")
        }
    }
}
