import GRPCCore
import Testing
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailSimulators
import PayrailStore

/// Every method beyond plain cards, through the edge, each outcome with its state sequence,
/// ledger entries and events: wallets (network token + cryptogram on the card acquirers),
/// bank debits (ACH, SEPA, UPI: processing, then settled or returned by notification), BNPL.
@Suite struct PaymentMethodTests {
    final class Processors: Sendable {
        let acquirerA = CardNetworkSimulator(name: "acquirer-a", configuration: .instant, seed: 11)
        let acquirerB = CardNetworkSimulator(name: "acquirer-b", configuration: .instant, seed: 12)
        let bank: BankDebitSimulator = {
            var configuration = BankDebitSimulator.Configuration()
            configuration.settlementDelayMs = 100
            return BankDebitSimulator(configuration: configuration)
        }()
        let bnpl = BNPLSimulator()
        let paypal = PayPalSimulator()
        /// The same processors behind a bad network the tests control.
        let bankNetwork: FaultInjector
        let bnplNetwork: FaultInjector
        let paypalNetwork: FaultInjector
        init() {
            let rates = FaultInjector.Rates(timeoutMs: 60)
            bankNetwork = FaultInjector(bank, rates: rates)
            bnplNetwork = FaultInjector(bnpl, rates: rates)
            paypalNetwork = FaultInjector(paypal, rates: rates)
        }
        var all: [any CardConnector] { [acquirerA, acquirerB, bankNetwork, bnplNetwork, paypalNetwork] }
    }

    private static func configure(_ processors: Processors) -> @Sendable (inout LocalCluster.Options) -> Void {
        { options in
            options.connector = nil
            options.connectors = processors.all
            options.routing = .default
        }
    }

    private static func request(_ key: String, _ amount: Int64, _ currency: String, _ set: (inout Payrail_V1_CreatePaymentRequest) -> Void) -> Payrail_V1_CreatePaymentRequest {
        var request = Payrail_V1_CreatePaymentRequest.with {
            $0.idempotencyKey = key
            $0.amount = .with { $0.amountMinor = amount; $0.currency = currency }
        }
        set(&request)
        return request
    }

    private static func waitFor(_ client: EdgeClient, _ id: String, _ status: Payrail_V1_PaymentStatus) async throws -> Payrail_V1_Payment {
        for _ in 0..<400 {
            let payment = try await client.payments.getPayment(.with { $0.paymentID = id }, metadata: client.metadata)
            if payment.status == status { return payment }
            try await Task.sleep(for: .milliseconds(30))
        }
        throw PayrailError(.internalError, "payment \(id) never reached \(status)")
    }

    @Test func walletsPayWithANetworkTokenAndCryptogramWithout3DS() async throws {
        let processors = Processors()
        try await withCluster(configure: Self.configure(processors)) { cluster, client, _, _ in
            func wallet(_ key: String, _ type: Payrail_V1_WalletType, _ token: String, _ cryptogram: String = "AgAAAAAABk4DWZ4C28yUQAAAAAA=") -> Payrail_V1_CreatePaymentRequest {
                Self.request(key, 2_500, "USD") {
                    $0.wallet = .with { $0.type = type; $0.networkToken = token; $0.expMonth = 11; $0.expYear = 2033; $0.cryptogram = cryptogram }
                }
            }
            let apple = try await client.payments.createPayment(wallet("apple-1", .applePay, TestCards.visaSuccess), metadata: client.metadata)
            #expect(apple.status == .succeeded && apple.paymentMethod.type == "apple_pay" && apple.card.last4 == "4242" && apple.connector == "acquirer-a")
            #expect(try await ledgerTrail(cluster, of: apple.id).kinds == ["authorization", "capture"])
            // A 3-D Secure card's network token: the wallet authenticated the cardholder already.
            let google = try await client.payments.createPayment(wallet("google-1", .googlePay, TestCards.threeDSRequired), metadata: client.metadata)
            #expect(google.status == .succeeded && google.paymentMethod.type == "google_pay" && !google.hasNextAction)
            let refused = try await client.payments.createPayment(wallet("apple-2", .applePay, TestCards.mastercardSuccess, TestCards.declinedCryptogram),
                                                                  metadata: client.metadata)
            #expect(refused.status == .failed && refused.failure.declineCode == "authentication_failed")
            let bad = await rpcFailure { _ = try await client.payments.createPayment(wallet("apple-3", .applePay, TestCards.visaSuccess, "!!"), metadata: client.metadata) }
            #expect(bad?.0 == .invalidArgument && bad?.1 == "invalid_request")
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test(arguments: ClusterStore.available)
    func bankDebitsAreProcessingThenSettledOrReturned(_ store: ClusterStore) async throws {
        let processors = Processors()
        try await withCluster(store: store, configure: Self.configure(processors)) { cluster, client, _, merchantID in
            let ach = try await client.payments.createPayment(Self.request("ach-1", 12_000, "USD") {
                $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000000"; $0.accountNumber = "000123456789"; $0.accountHolderName = "Jenny Rosen" }
            }, metadata: client.metadata)
            #expect(ach.status == .processing && ach.paymentMethod.type == "ach_debit" && ach.paymentMethod.bankLast4 == "6789" && ach.connector == "bank-debits")
            #expect(!ach.hasCard && ach.amountCapturableMinor == 12_000)
            // One consistent read: while the bank clears, the funds are pending (the settlement may
            // already have landed on a loaded machine, with its capture in the same transaction).
            let (status, kinds) = try await cluster.store.read { tx in
                (try await tx.payment(id: ach.id, merchantID: merchantID)?.status,
                 try await tx.ledgerTransactions(resourceID: ach.id).map(\.kind.rawValue))
            }
            #expect(status == .processing ? kinds == ["authorization"] : kinds == ["authorization", "capture"], "pending funds while the bank clears")
            let settled = try await Self.waitFor(client, ach.id, .succeeded)
            #expect(settled.amountCapturedMinor == 12_000)
            #expect(try await ledgerTrail(cluster, of: ach.id) == (["authorization", "capture"], ["bank-debits"]))
            #expect(try await outboxEventTypes(cluster, about: [ach.id]) == ["payment.succeeded"])
            let refund = try await client.refunds.createRefund(.with { $0.idempotencyKey = "ach-1-r"; $0.paymentID = ach.id; $0.amountMinor = 2_000 },
                                                               metadata: client.metadata)
            #expect(refund.status == .succeeded)

            let returned = try await client.payments.createPayment(Self.request("ach-2", 8_000, "USD") {
                $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000000"; $0.accountNumber = "000111110002" }
            }, metadata: client.metadata)
            let failed = try await Self.waitFor(client, returned.id, .failed)
            #expect(failed.failure.reason == "bank_debit_returned" && failed.failure.declineCode == "insufficient_funds")
            #expect(try await ledgerTrail(cluster, of: returned.id).kinds == ["authorization", "void"])
            #expect(try await outboxEventTypes(cluster, about: [returned.id]) == ["payment.failed"])

            let sepa = try await client.payments.createPayment(Self.request("sepa-1", 4_000, "EUR") {
                $0.bankDebit = .with { $0.scheme = .sepa; $0.iban = "DE89 3704 0044 0532 0130 00" }
            }, metadata: client.metadata)
            #expect(sepa.paymentMethod.bankCode == "DE3704" && sepa.paymentMethod.bankLast4 == "3000")
            _ = try await Self.waitFor(client, sepa.id, .succeeded)
            let upi = try await client.payments.createPayment(Self.request("upi-1", 50_000, "INR") {
                $0.bankDebit = .with { $0.scheme = .upi; $0.vpa = "buyer0003@okbank" }
            }, metadata: client.metadata)
            #expect(try await Self.waitFor(client, upi.id, .failed).failure.declineCode == "account_closed")
            #expect(processors.bank.debitCount() == 4)

            let replay = try await client.payments.createPayment(Self.request("ach-1", 12_000, "USD") {
                $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000000"; $0.accountNumber = "000123456789"; $0.accountHolderName = "Jenny Rosen" }
            }, metadata: client.metadata)
            #expect(replay.id == ach.id && processors.bank.debitCount() == 4, "a retry debits nothing twice")
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func badBankDetailsAreTypedErrors() async throws {
        let processors = Processors()
        try await withCluster(configure: Self.configure(processors)) { _, client, _, _ in
            let cases: [(Payrail_V1_CreatePaymentRequest, String)] = [
                (Self.request("b-1", 100, "USD") { $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000001"; $0.accountNumber = "1234" } },
                 "invalid_request"),
                (Self.request("b-2", 100, "EUR") { $0.bankDebit = .with { $0.scheme = .sepa; $0.iban = "DE89370400440532013001" } }, "invalid_request"),
                (Self.request("b-3", 100, "EUR") { $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000000"; $0.accountNumber = "1234" } },
                 "currency_mismatch"),
                (Self.request("b-4", 100, "INR") { $0.bankDebit = .with { $0.scheme = .upi; $0.vpa = "no-at-sign" } }, "invalid_request"),
                (Self.request("b-5", 100, "USD") { $0.bnpl = .with { $0.installments = 5 } }, "invalid_request"),
            ]
            for (request, reason) in cases {
                let failure = await rpcFailure { _ = try await client.payments.createPayment(request, metadata: client.metadata) }
                #expect(failure?.0 == .invalidArgument && failure?.1 == reason, "\(request.idempotencyKey): \(String(describing: failure))")
            }
            #expect(processors.bank.debitCount() == 0, "nothing reached the bank")
        }
    }

    @Test(arguments: ClusterStore.available)
    func bnplPaysTheMerchantInFullOrDeclinesThePlan(_ store: ClusterStore) async throws {
        let processors = Processors()
        try await withCluster(store: store, configure: Self.configure(processors)) { cluster, client, _, merchantID in
            let approved = try await client.payments.createPayment(Self.request("bnpl-1", 10_001, "USD") { $0.bnpl = .with { $0.installments = 4 } },
                                                                   metadata: client.metadata)
            #expect(approved.status == .succeeded && approved.amountCapturedMinor == 10_001 && approved.connector == "paylater")
            #expect(approved.paymentMethod.type == "bnpl" && approved.paymentMethod.bnplInstallments == 4 && approved.paymentMethod.bnplProvider == "paylater")
            #expect(try await ledgerTrail(cluster, of: approved.id) == (["authorization", "capture"], ["paylater"]))
            let reference = try #require(try await cluster.core.payments.payment(CallerContext(merchantID: merchantID, livemode: false),
                                                                                   id: approved.id).processorReference)
            #expect(processors.bnpl.installments(planReference: reference) == [2_501, 2_500, 2_500, 2_500], "the buyer's plan adds up")

            let declined = try await client.payments.createPayment(Self.request("bnpl-2", 5_013, "USD") { $0.bnpl = .with { $0.installments = 3 } },
                                                                   metadata: client.metadata)
            #expect(declined.status == .failed && declined.failure.reason == "bnpl_declined" && declined.failure.declineCode == "plan_declined")
            #expect(try await ledgerTrail(cluster, of: declined.id).kinds.isEmpty)
            #expect(try await outboxEventTypes(cluster, about: [declined.id]) == ["payment.failed"])
            let refund = try await client.refunds.createRefund(.with { $0.idempotencyKey = "bnpl-1-r"; $0.paymentID = approved.id }, metadata: client.metadata)
            #expect(refund.status == .succeeded && refund.amount.amountMinor == 10_001)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test(arguments: ClusterStore.available)
    func paypalRedirectsThenCompletesWhenTheBuyerApprovesOrCancels(_ store: ClusterStore) async throws {
        let processors = Processors()
        try await withCluster(store: store, configure: Self.configure(processors)) { cluster, client, _, _ in
            func paypal(_ key: String) -> Payrail_V1_CreatePaymentRequest {
                Self.request(key, 3_300, "USD") { $0.paypal = .with { $0.returnURL = "https://shop.example/return" } }
            }
            let payment = try await client.payments.createPayment(paypal("pp-1"), metadata: client.metadata)
            #expect(payment.status == .requiresAction && payment.nextAction.type == "redirect" && payment.connector == "paypal")
            #expect(payment.nextAction.redirectURL == PayPalSimulator.approvalURL(orderID: payment.nextAction.challengeID))
            #expect(payment.paymentMethod.type == "paypal" && payment.paymentMethod.walletProvider == "paypal")
            // The buyer comes back before approving: nothing changes.
            let early = try await client.payments.confirmPayment(.with { $0.idempotencyKey = "pp-1-early"; $0.paymentID = payment.id },
                                                                 metadata: client.metadata)
            #expect(early.status == .requiresAction)
            #expect(try await ledgerTrail(cluster, of: payment.id).kinds.isEmpty)

            processors.paypal.approve(orderID: payment.nextAction.challengeID)
            let paid = try await Self.waitFor(client, payment.id, .succeeded)
            #expect(paid.amountCapturedMinor == 3_300 && !paid.hasNextAction)
            #expect(try await ledgerTrail(cluster, of: payment.id) == (["authorization", "capture"], ["paypal"]))
            // The merchant confirms when the buyer returns: the same payment, nothing twice.
            let confirmed = try await client.payments.confirmPayment(.with { $0.idempotencyKey = "pp-1-back"; $0.paymentID = payment.id },
                                                                     metadata: client.metadata)
            #expect(confirmed.status == .succeeded)
            #expect(try await ledgerTrail(cluster, of: payment.id).kinds == ["authorization", "capture"])
            #expect(try await outboxEventTypes(cluster, about: [payment.id]) == ["payment.requires_action", "payment.succeeded"])

            let canceled = try await client.payments.createPayment(paypal("pp-2"), metadata: client.metadata)
            processors.paypal.cancel(orderID: canceled.nextAction.challengeID)
            let failed = try await Self.waitFor(client, canceled.id, .failed)
            #expect(failed.failure.declineCode == "buyer_canceled")
            let bad = await rpcFailure {
                _ = try await client.payments.createPayment(Self.request("pp-3", 100, "USD") { $0.paypal = .with { $0.returnURL = "http://plain" } },
                                                            metadata: client.metadata)
            }
            #expect(bad?.0 == .invalidArgument)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    /// The bank rails, the BNPL provider and the redirect wallet have bad days too: 503s are
    /// retried, a lost answer is recovered by the status query (one debit at the bank), and a
    /// provider that never gets the request is reversed and the payment failed.
    @Test func nonCardProcessorsSurviveTransientErrorsAndTimeouts() async throws {
        let processors = Processors()
        try await withCluster(configure: Self.configure(processors)) { cluster, client, _, _ in
            processors.bnplNetwork.injectAuthorizationFaults([.unavailable, .unavailable])
            let bnpl = try await client.payments.createPayment(Self.request("flaky-bnpl", 4_000, "USD") { $0.bnpl = .with { $0.installments = 4 } },
                                                               metadata: client.metadata)
            #expect(bnpl.status == .succeeded)

            processors.bankNetwork.injectAuthorizationFaults([.responseLost])
            let debit = try await client.payments.createPayment(Self.request("flaky-ach", 6_000, "USD") {
                $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000000"; $0.accountNumber = "000123456789" }
            }, metadata: client.metadata)
            #expect(debit.status == .processing && debit.amountCapturableMinor == 6_000, "the status query found the accepted debit")
            _ = try await Self.waitFor(client, debit.id, .succeeded)
            #expect(processors.bank.debitCount() == 1)

            processors.paypalNetwork.injectAuthorizationFaults([.requestLost, .requestLost, .requestLost])
            let lost = try await client.payments.createPayment(Self.request("flaky-pp", 2_000, "USD") {
                $0.paypal = .with { $0.returnURL = "https://shop.example/return" }
            }, metadata: client.metadata)
            #expect(lost.status == .failed && lost.failure.reason == "processing_error")
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    /// The bank accepted the debit but its answer was lost and its status API was down: the
    /// payment is `processing` with nothing recorded, and the bank's settlement notification
    /// that arrives meanwhile is not acknowledged; once the reconciliation job records the debit,
    /// the notification (delivered again) settles it.
    @Test func aSettlementThatOvertakesTheDebitIsAppliedOnceTheDebitIsRecorded() async throws {
        let processors = Processors()
        try await withCluster(configure: Self.configure(processors)) { cluster, client, _, _ in
            processors.bankNetwork.injectAuthorizationFaults([.responseLost])
            processors.bankNetwork.setStatusAvailable(false)
            let debit = try await client.payments.createPayment(Self.request("overtaken", 7_000, "USD") {
                $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000000"; $0.accountNumber = "000123456789" }
            }, metadata: client.metadata)
            #expect(debit.status == .processing && debit.amountCapturableMinor == 0, "unknown outcome: nothing recorded")
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await client.payments.getPayment(.with { $0.paymentID = debit.id }, metadata: client.metadata).status == .processing,
                    "the early settlement waits instead of being dropped")
            #expect(try await processors.bank.pendingNotifications(limit: 10).count == 1)

            processors.bankNetwork.setStatusAvailable(true)
            let reconciler = PaymentReconciler(payments: cluster.core.payments, configuration: {
                var configuration = PaymentReconciler.Configuration()
                configuration.stalledAfterMs = 0
                configuration.unknownRetryBaseMs = 0
                return configuration
            }())
            _ = try await reconciler.round()
            let settled = try await Self.waitFor(client, debit.id, .succeeded)
            #expect(settled.amountCapturedMinor == 7_000 && processors.bank.debitCount() == 1)
            #expect(try await ledgerTrail(cluster, of: debit.id).kinds == ["authorization", "capture"])
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }
}
