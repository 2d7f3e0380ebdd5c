import PayrailDomain
import PropertyBased
import Testing

func makePayment(amount: Int64 = 10_000, capture: CaptureMethod = .manual, currency: Currency = .usd) -> Payment {
    Payment(id: "pay_test", merchantID: "acct_test", livemode: false, amount: Money(amountMinor: amount, currency: currency),
            captureMethod: capture, card: CardSummary(token: "tok_x", brand: .visa, last4: "4242", expMonth: 12, expYear: 2030,
                                                     fingerprint: "fp", country: "US"),
            connector: "cardsim", description: "", metadata: [:], createdAtMs: 1)
}

let allEvents: [PaymentEvent] = [
    .authorized(processorReference: "auth_1"), .challengeRequired(ThreeDSChallenge(challengeID: "chl", attemptsRemaining: 3)),
    .challengePassed, .challengeFailed, .declined(.declined(.genericDecline, "declined")), .captured(amountMinor: 10_000),
    .captured(amountMinor: 4_000), .canceled, .heldForReview, .reviewApproved, .refundRequested(amountMinor: 1_000), .refundSucceeded(amountMinor: 1_000),
    .refundFailed(amountMinor: 1_000), .rerouted(to: "acquirer-b"), .challengeExpired,
]

@Suite struct PaymentStateMachineTests {
    @Test func manualCaptureThenPartialRefunds() throws {
        var payment = makePayment()
        try payment.apply(.authorized(processorReference: "auth_1"), at: 2)
        #expect(payment.status == .requiresCapture && payment.amountCapturableMinor == 10_000)
        try payment.apply(.captured(amountMinor: 6_000), at: 3)
        #expect(payment.status == .succeeded && payment.amountCapturedMinor == 6_000 && payment.amountCapturableMinor == 0)
        try payment.apply(.refundRequested(amountMinor: 2_000), at: 4)
        try payment.apply(.refundSucceeded(amountMinor: 2_000), at: 5)
        try payment.apply(.refundRequested(amountMinor: 4_000), at: 6)
        #expect(throws: PayrailError.self) { try payment.validate(.refundRequested(amountMinor: 1)) }
        try payment.apply(.refundSucceeded(amountMinor: 4_000), at: 7)
        #expect(payment.amountRefundedMinor == 6_000 && payment.amountRefundableMinor == 0 && payment.status == .succeeded)
    }

    @Test func threeDSPathsAndAttempts() throws {
        var payment = makePayment(capture: .automatic)
        try payment.apply(.challengeRequired(ThreeDSChallenge(challengeID: "chl", attemptsRemaining: 2)), at: 2)
        #expect(payment.status == .requiresAction)
        try payment.apply(.challengeFailed, at: 3)
        #expect(payment.status == .requiresAction && payment.challenge?.attemptsRemaining == 1)
        var passed = payment
        try passed.apply(.challengePassed, at: 4)
        try passed.apply(.authorized(processorReference: "a"), at: 4)
        try passed.apply(.captured(amountMinor: 10_000), at: 4)
        #expect(passed.status == .succeeded)
        try payment.apply(.challengeFailed, at: 5)
        #expect(payment.status == .failed && payment.failure?.declineCode == .authenticationFailed)
    }

    @Test func declineAndCancel() throws {
        var declined = makePayment()
        try declined.apply(.declined(.declined(.insufficientFunds, "no money")), at: 2)
        #expect(declined.status == .failed && declined.failure?.declineCode == .insufficientFunds)
        var canceled = makePayment()
        try canceled.apply(.authorized(processorReference: "a"), at: 2)
        try canceled.apply(.canceled, at: 3)
        #expect(canceled.status == .canceled && canceled.amountCapturableMinor == 0)
    }

    /// The fraud check's review: held after the authorization, then approved and captured, or
    /// rejected; the hold stays whole while held.
    @Test func reviewHoldsThenApprovesOrRejects() throws {
        var payment = makePayment()
        try payment.apply(.authorized(processorReference: "a"), at: 2)
        try payment.apply(.heldForReview, at: 3)
        #expect(payment.status == .requiresReview && payment.amountCapturableMinor == 10_000)
        #expect(throws: PayrailError.self) { try payment.validate(.captured(amountMinor: 10_000)) }
        var rejected = payment
        try rejected.apply(.canceled, at: 4)
        #expect(rejected.status == .canceled && rejected.amountCapturableMinor == 0)
        try payment.apply(.reviewApproved, at: 4)
        try payment.apply(.captured(amountMinor: 10_000), at: 5)
        #expect(payment.status == .succeeded && payment.amountCapturedMinor == 10_000)
    }

    @Test func captureCannotExceedTheAuthorization() throws {
        var payment = makePayment()
        try payment.apply(.authorized(processorReference: "a"), at: 2)
        #expect(throws: PayrailError.self) { try payment.validate(.captured(amountMinor: 10_001)) }
        #expect(throws: PayrailError.self) { try payment.validate(.captured(amountMinor: 0)) }
    }

    /// Every (status, event) pair not in the table is refused with a typed error and leaves
    /// the payment untouched.
    @Test func everyIllegalTransitionIsRefused() throws {
        let reachable = try reachableStates()
        var refused = 0
        for (status, payment) in reachable {
            for event in allEvents where PaymentStateMachine.next(status, event) == nil {
                var copy = payment
                #expect(throws: PayrailError.self) { try copy.apply(event, at: 100) }
                #expect(copy == payment)
                refused += 1
            }
        }
        #expect(refused > 30)
        #expect(Set(reachable.keys) == Set(PaymentStatus.allCases))
    }

    /// Random event sequences never break an invariant (apply would stop the process) and
    /// terminal states accept nothing.
    @Test func randomEventSequencesKeepInvariants() async {
        await propertyCheck(input: Gen.int(in: 0...(allEvents.count - 1)).array(of: 0...12)) { indices in
            var payment = makePayment()
            for index in indices {
                let before = payment
                do {
                    try payment.apply(allEvents[index], at: 10)
                    #expect(!before.status.isTerminal)
                } catch {
                    #expect(payment == before)
                }
            }
            #expect(payment.amountRefundedMinor + payment.amountRefundPendingMinor <= payment.amountCapturedMinor)
        }
    }

    private func reachableStates() throws -> [PaymentStatus: Payment] {
        var states: [PaymentStatus: Payment] = [.processing: makePayment()]
        var action = makePayment()
        try action.apply(.challengeRequired(ThreeDSChallenge(challengeID: "c", attemptsRemaining: 3)), at: 2)
        states[.requiresAction] = action
        var capture = makePayment()
        try capture.apply(.authorized(processorReference: "a"), at: 2)
        states[.requiresCapture] = capture
        var review = capture
        try review.apply(.heldForReview, at: 3)
        states[.requiresReview] = review
        var succeeded = capture
        try succeeded.apply(.captured(amountMinor: 10_000), at: 3)
        states[.succeeded] = succeeded
        var canceled = capture
        try canceled.apply(.canceled, at: 3)
        states[.canceled] = canceled
        var failed = makePayment()
        try failed.apply(.declined(.declined(.genericDecline, "x")), at: 2)
        states[.failed] = failed
        return states
    }
}

@Suite struct PostingRulesTests {
    @Test func everyRuleBalancesPerCurrency() async {
        await propertyCheck(input: Gen.int64(in: 1...1_000_000_000), Gen.int64(in: 1...1_000_000_000)) { amount, split in
            let capture = min(amount, split)
            var payment = makePayment(amount: amount)
            try payment.apply(.authorized(processorReference: "a"), at: 2)
            let hold = PostingRules.authorization(payment, transactionID: "t1", at: 2)
            let before = payment
            try payment.apply(.captured(amountMinor: capture), at: 3)
            let posted = PostingRules.capture(payment, authorizedMinor: before.amountCapturableMinor, capturedMinor: capture, transactionID: "t2", at: 3)
            let void = PostingRules.void(before, authorizedMinor: amount, transactionID: "t3", at: 3)
            try payment.apply(.refundRequested(amountMinor: capture), at: 4)
            let refund = Refund(id: "re_1", paymentID: payment.id, merchantID: payment.merchantID,
                                amount: Money(amountMinor: capture, currency: .usd), reason: "", createdAtMs: 4)
            let refunded = PostingRules.refund(payment, refund, transactionID: "t4", at: 4)
            for transaction in [hold, posted, void, refunded] {
                #expect(transaction.entries.reduce(0) { $0 + $1.amountMinor } == 0)
            }
            // Hold then capture then full refund: the merchant ends where it started, the hold is gone.
            var balances: [String: Int64] = [:]
            for entry in (hold.entries + posted.entries + refunded.entries) { balances[entry.account.key, default: 0] += entry.amountMinor }
            #expect(balances.values.allSatisfy { $0 == 0 })
        }
    }

    @Test func unbalancedTransactionsCannotBeBuilt() {
        let a = LedgerAccount.merchantAvailable("m", livemode: false, .usd)
        let b = LedgerAccount.processorReceivable("p", livemode: false, .usd)
        let e = LedgerAccount.processorReceivable("p", livemode: false, .eur)
        #expect(throws: LedgerError.unbalanced(currency: "USD", sumMinor: 1)) {
            try LedgerTransaction(id: "t", kind: .capture, resourceID: "p", entries: [.debit(a, 2), .credit(b, 1)], createdAtMs: 0)
        }
        #expect(throws: LedgerError.self) {
            try LedgerTransaction(id: "t", kind: .capture, resourceID: "p", entries: [.debit(a, 1), .credit(e, 1)], createdAtMs: 0)
        }
        #expect(throws: LedgerError.tooFewEntries) {
            try LedgerTransaction(id: "t", kind: .capture, resourceID: "p", entries: [], createdAtMs: 0)
        }
        #expect(LedgerAccount(key: a.key) == a)
        #expect(LedgerAccount(key: "merchant:x:test:bogus:USD") == nil)
    }
}
