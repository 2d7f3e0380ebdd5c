import GRPCCore
import PayrailCluster
import PayrailProtos
import PayrailSimulators
import Testing

/// Bad input gets the documented status and reason (docs/errors.md) and writes nothing.
@Suite(.serialized) struct BadInputTests {
    @Test func invalidRequestsAreTypedAndWriteNothing() async throws {
        try await withCluster { cluster, client, _, _ in
            func expect(_ request: Payrail_V1_CreatePaymentRequest, _ code: RPCError.Code, _ reason: String,
                        sourceLocation: SourceLocation = #_sourceLocation) async {
                let failure = await rpcFailure { _ = try await client.payments.createPayment(request, metadata: client.metadata) }
                #expect(failure?.0 == code, sourceLocation: sourceLocation)
                #expect(failure?.1 == reason, sourceLocation: sourceLocation)
            }
            await expect(createRequest(key: "bad-1", currency: "XYZ"), .invalidArgument, "invalid_currency")
            await expect(createRequest(key: "bad-2", currency: ""), .invalidArgument, "missing_field")
            await expect(createRequest(key: "bad-3", amount: 0), .invalidArgument, "invalid_amount")
            await expect(createRequest(key: "bad-4", amount: -100), .invalidArgument, "invalid_amount")
            await expect(createRequest(key: "bad-5", amount: .max), .invalidArgument, "invalid_amount")
            await expect(createRequest(key: "bad-6", card: "4242424242424241"), .invalidArgument, "invalid_card_number")
            await expect(createRequest(key: "", amount: 100), .invalidArgument, "missing_field")
            var noCard = createRequest(key: "bad-7")
            noCard.paymentMethod = nil
            await expect(noCard, .invalidArgument, "missing_field")
            var noAmount = createRequest(key: "bad-8")
            noAmount.clearAmount()
            await expect(noAmount, .invalidArgument, "missing_field")
            var expired = createRequest(key: "bad-9")
            expired.card.expYear = 2020
            await expect(expired, .invalidArgument, "invalid_expiry")
            var badCVC = createRequest(key: "bad-10")
            badCVC.card.cvc = "12"
            await expect(badCVC, .invalidArgument, "invalid_cvc")
            var tooMuchMetadata = createRequest(key: "bad-11")
            for index in 0..<60 { tooMuchMetadata.metadata["k\(index)"] = "v" }
            await expect(tooMuchMetadata, .invalidArgument, "invalid_request")

            // Wrong API key: refused before anything is forwarded.
            let stranger = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath,
                                          apiKey: "sk_test_" + String(repeating: "a", count: 58))
            let unauthenticated = await rpcFailure { _ = try await stranger.payments.createPayment(createRequest(key: "bad-12"), metadata: stranger.metadata) }
            #expect(unauthenticated?.0 == .unauthenticated && unauthenticated?.1 == "invalid_api_key")
            let noKey = await rpcFailure { _ = try await stranger.payments.getPayment(.with { $0.paymentID = "pay_x" }) }
            #expect(noKey?.0 == .unauthenticated && noKey?.1 == "invalid_api_key")
            await stranger.close()

            // Oversized message: refused before it is parsed.
            var huge = createRequest(key: "bad-13")
            huge.description_p = String(repeating: "x", count: 200_000)
            let oversized = await rpcFailure { _ = try await client.payments.createPayment(huge, metadata: client.metadata) }
            #expect(oversized?.0 == .resourceExhausted && oversized?.1 == "message_too_large")
            // Within the size limit but over a field limit.
            var long = createRequest(key: "bad-14")
            long.description_p = String(repeating: "x", count: 5_000)
            let tooLong = await rpcFailure { _ = try await client.payments.createPayment(long, metadata: client.metadata) }
            #expect(tooLong?.0 == .invalidArgument && tooLong?.1 == "invalid_request")

            // Unknown ids.
            let missing = await rpcFailure { _ = try await client.payments.getPayment(.with { $0.paymentID = "pay_doesnotexist" }, metadata: client.metadata) }
            #expect(missing?.0 == .notFound && missing?.1 == "resource_missing")
            let malformed = await rpcFailure { _ = try await client.payments.getPayment(.with { $0.paymentID = "'; DROP TABLE payments" }, metadata: client.metadata) }
            #expect(malformed?.0 == .invalidArgument && malformed?.1 == "invalid_request")

            // Nothing was written by any of the above.
            let page = try await client.payments.listPayments(.with { $0.limit = 100 }, metadata: client.metadata)
            #expect(page.payments.isEmpty)
            #expect(try await cluster.core.ledger.verify().transactions == 0)
        }
    }
}
