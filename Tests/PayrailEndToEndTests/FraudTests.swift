import GRPCCore
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import Testing

/// The fraud check end to end through an edge: each action path (block, require 3-D Secure,
/// review then approve or reject, allow), lists managed through the API, and counters rebuilt
/// from the store after a restart.
@Suite struct FraudTests {
    private func request(_ key: String, card: String, ip: String? = nil, device: String? = nil, billing: String? = nil,
                         amount: Int64 = 10_000) -> Payrail_V1_CreatePaymentRequest {
        var request = createRequest(key: key, amount: amount, card: card)
        request.riskContext = .with {
            $0.clientIp = ip ?? ""
            $0.deviceID = device ?? ""
            $0.billingCountry = billing ?? ""
        }
        return request
    }

    @Test func cardTestingBurstFromOneIPIsBlockedBeforeTheProcessor() async throws {
        try await withCluster { cluster, client, network, _ in
            var statuses: [Payrail_V1_PaymentStatus] = []
            var last = Payrail_V1_Payment()
            for index in 0..<8 {
                last = try await client.payments.createPayment(request("burst-\(index)", card: TestCards.generated(index), ip: "198.51.100.7", amount: 100),
                                                               metadata: client.metadata)
                statuses.append(last.status)
            }
            // Five different cards from one IP in an hour are allowed; the sixth on is card testing.
            #expect(statuses.prefix(5).allSatisfy { $0 == .succeeded }, "\(statuses)")
            #expect(statuses.suffix(3).allSatisfy { $0 == .failed }, "\(statuses)")
            #expect(last.failure.reason == "fraud_suspected" && last.failure.declineCode == "generic_decline",
                    "the cardholder sees a generic decline")
            #expect(last.risk.action == "block" && last.risk.reasons.contains("card_testing_ip"))
            #expect(network.authorizationCount() == 5, "blocked payments never reach the processor")
            // A counter rebuilt from the store (a restarted node) still sees the burst.
            let fresh = RiskService(store: cluster.store)
            try await fresh.rebuild(nowMs: UnixClock.nowMs())
            let merchantID = try await cluster.store.read { try await $0.paymentsCreated(sinceMs: 0, limit: 1) }.first!.merchantID
            let verdict = try await fresh.assess(merchantID: merchantID, livemode: false, amount: Money(amountMinor: 100, currency: .usd),
                                                 card: .init(fingerprint: "fp-new", country: "US"),
                                                 context: RiskContext(clientIP: "198.51.100.7"), nowMs: UnixClock.nowMs())
            #expect(verdict.action == .block && verdict.reasons.contains("card_testing_ip"))
            // Another IP is unaffected.
            let other = try await client.payments.createPayment(request("other-ip", card: TestCards.generated(99), ip: "192.0.2.10"), metadata: client.metadata)
            #expect(other.status == .succeeded && other.risk.action == "allow")
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func blocklistedDeviceIsBlockedAndAllowlistWins() async throws {
        try await withCluster { _, client, _, _ in
            let added = try await client.riskLists.addRiskListEntry(.with { $0.list = .block; $0.kind = .device; $0.value = "dev-evil" },
                                                                    metadata: client.metadata)
            #expect(added.value == "dev-evil")
            let blocked = try await client.payments.createPayment(request("evil-1", card: TestCards.generated(1), device: "dev-evil"), metadata: client.metadata)
            #expect(blocked.status == .failed && blocked.failure.reason == "fraud_suspected" && blocked.risk.reasons == ["blocklisted_device"])
            let listed = try await client.riskLists.listRiskListEntries(.init(), metadata: client.metadata)
            #expect(listed.entries.count == 1)
            let removed = try await client.riskLists.removeRiskListEntry(.with { $0.list = .block; $0.kind = .device; $0.value = "dev-evil" },
                                                                         metadata: client.metadata)
            #expect(removed.removed)
            let allowed = try await client.payments.createPayment(request("evil-2", card: TestCards.generated(2), device: "dev-evil"), metadata: client.metadata)
            #expect(allowed.status == .succeeded)
            // Bad entries are typed errors.
            let bad = await rpcFailure {
                _ = try await client.riskLists.addRiskListEntry(.with { $0.list = .block; $0.kind = .email; $0.value = "someone@example.com" },
                                                                metadata: client.metadata)
            }
            #expect(bad?.0 == .invalidArgument && bad?.1 == "invalid_request")
        }
    }

    @Test func manyCardsOnOneDeviceRequireThreeDSecure() async throws {
        try await withCluster { _, client, _, _ in
            for index in 0..<4 {
                let payment = try await client.payments.createPayment(request("dev-\(index)", card: TestCards.generated(10 + index), device: "dev-shared"),
                                                                      metadata: client.metadata)
                #expect(payment.status == .succeeded)
            }
            let challenged = try await client.payments.createPayment(request("dev-4", card: TestCards.generated(14), device: "dev-shared"),
                                                                     metadata: client.metadata)
            #expect(challenged.status == .requiresAction && challenged.risk.action == "require_3ds")
            #expect(challenged.risk.reasons.contains("device_many_cards"))
            let confirmed = try await client.payments.confirmPayment(.with {
                $0.idempotencyKey = "dev-4-confirm"
                $0.paymentID = challenged.id
                $0.threeDsOtp = TestCards.validOTP
            }, metadata: client.metadata)
            #expect(confirmed.status == .succeeded)
        }
    }

    /// Foreign IP and billing country on a new card: held for review; approved = captured,
    /// rejected = voided; the ledger follows.
    @Test(arguments: ClusterStore.available)
    func reviewIsApprovedThenCapturedOrRejected(store: ClusterStore) async throws {
        try await withCluster(store: store) { cluster, client, network, _ in
            let held = try await client.payments.createPayment(request("review-1", card: TestCards.visaSuccess, ip: "198.51.100.7", billing: "DE"),
                                                               metadata: client.metadata)
            #expect(held.status == .requiresReview && held.risk.action == "review", "\(held.risk)")
            #expect(held.risk.reasons.contains("ip_and_billing_country_mismatch") && held.risk.score > 0 && held.risk.score < 1)
            #expect(held.amountCapturableMinor == 10_000, "authorized and held")
            let capture = await rpcFailure {
                _ = try await client.payments.capturePayment(.with { $0.idempotencyKey = "cap"; $0.paymentID = held.id }, metadata: client.metadata)
            }
            #expect(capture?.1 == "payment_unexpected_state", "a held payment cannot be captured before the review")
            let approved = try await client.payments.reviewPayment(.with {
                $0.idempotencyKey = "review-1-approve"
                $0.paymentID = held.id
                $0.approve = true
                $0.note = "customer confirmed by phone"
            }, metadata: client.metadata)
            #expect(approved.status == .succeeded && approved.amountCapturedMinor == 10_000)

            let second = try await client.payments.createPayment(request("review-2", card: TestCards.visaSuccess, ip: "198.51.100.8", billing: "DE"),
                                                                 metadata: client.metadata)
            #expect(second.status == .requiresReview)
            let rejected = try await client.payments.reviewPayment(.with {
                $0.idempotencyKey = "review-2-reject"
                $0.paymentID = second.id
                $0.approve = false
            }, metadata: client.metadata)
            #expect(rejected.status == .canceled && rejected.amountCapturableMinor == 0)
            let again = await rpcFailure {
                _ = try await client.payments.reviewPayment(.with { $0.idempotencyKey = "again"; $0.paymentID = approved.id; $0.approve = true },
                                                            metadata: client.metadata)
            }
            #expect(again?.1 == "payment_unexpected_state")
            #expect(network.authorizationCount() == 2)
            let report = try await cluster.core.ledger.verify()
            #expect(report.isValid, "\(report)")
        }
    }

    /// The other shipped rules, each through the edge.
    @Test func declinesThenANewCardFromOneIPAreBlocked() async throws {
        try await withCluster { _, client, _, _ in
            for index in 0..<3 {
                let declined = try await client.payments.createPayment(request("decl-\(index)", card: TestCards.genericDecline, ip: "192.0.2.20"),
                                                                       metadata: client.metadata)
                #expect(declined.status == .failed && declined.failure.reason == "card_declined")
            }
            let next = try await client.payments.createPayment(request("decl-new", card: TestCards.generated(40), ip: "192.0.2.20"), metadata: client.metadata)
            #expect(next.status == .failed && next.failure.reason == "fraud_suspected" && next.risk.reasons.contains("card_testing_declines"))
        }
    }

    @Test func manyCardsOnOneEmailRequireThreeDSecure() async throws {
        try await withCluster { _, client, _, _ in
            let email = String(repeating: "ab", count: 32)
            func pay(_ index: Int) async throws -> Payrail_V1_Payment {
                var request = request("email-\(index)", card: TestCards.generated(50 + index))
                request.riskContext.emailSha256 = email
                return try await client.payments.createPayment(request, metadata: client.metadata)
            }
            for index in 0..<3 { #expect(try await pay(index).status == .succeeded) }
            let fourth = try await pay(3)
            #expect(fourth.status == .requiresAction && fourth.risk.reasons.contains("email_many_cards"))
        }
    }

    @Test func largeAmountOnANewCardFromAbroadRequiresThreeDSecure() async throws {
        try await withCluster { _, client, _, _ in
            // The merchant's usual amount: 10.00.
            for index in 0..<3 {
                #expect(try await client.payments.createPayment(request("usual-\(index)", card: TestCards.generated(60), amount: 1_000),
                                                                metadata: client.metadata).status == .succeeded)
            }
            // Eight times that, a card never seen, from a GB address with a US card.
            let large = try await client.payments.createPayment(request("large", card: TestCards.generated(61), ip: "198.51.100.9", amount: 8_000),
                                                                metadata: client.metadata)
            #expect(large.status == .requiresAction && large.risk.reasons.contains("large_amount_new_card_abroad"), "\(large.risk)")
        }
    }

    @Test func badRiskContextIsATypedError() async throws {
        try await withCluster { _, client, _, _ in
            for (context, field) in [(Payrail_V1_RiskContext.with { $0.clientIp = "999.1.1.1" }, "risk_context.client_ip"),
                                     (.with { $0.emailSha256 = "alice@example.com" }, "risk_context.email_sha256"),
                                     (.with { $0.billingCountry = "Germany" }, "risk_context.billing_country"),
                                     (.with { $0.deviceID = "a|b" }, "risk_context.device_id")] {
                var bad = createRequest(key: "bad-\(field)")
                bad.riskContext = context
                do {
                    _ = try await client.payments.createPayment(bad, metadata: client.metadata)
                    Issue.record("accepted \(field)")
                } catch let error as RPCError {
                    let payrail = RPCErrorMapping.payrailError(error)
                    #expect(error.code == .invalidArgument && payrail.field == field)
                }
            }
        }
    }
}
