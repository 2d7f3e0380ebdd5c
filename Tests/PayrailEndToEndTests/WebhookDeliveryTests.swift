import AsyncHTTPClient
import Foundation
import GRPCCore
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailRuntime
import PayrailSDK
import PayrailSimulators
import PayrailStore
import ServiceLifecycle
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Webhook delivery against a real HTTP receiver on loopback: retries with growing backoff,
/// signatures a merchant can verify, no event lost when a dispatcher process is killed, and no
/// attempt sent twice at once by two dispatchers.
@Suite(.serialized) struct WebhookDeliveryTests {
    private func waitUntil(seconds: Int = 60, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while try await !condition() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test(arguments: ClusterStore.available)
    func aFailingEndpointGetsTheSignedEventAfterRetriesWithGrowingBackoff(_ store: ClusterStore) async throws {
        let receiver = try await WebhookReceiver.start(failFirst: 3)
        var webhooks = WebhookDispatcher.Configuration()
        webhooks.pollInterval = .milliseconds(20)
        webhooks.retry = WebhookRetryPolicy(initialDelayMs: 150, maximumDelayMs: 5_000, retryPeriodMs: 60_000, jitter: false)
        do {
            try await withCluster(store: store, webhooks: webhooks) { cluster, client, _, merchantID in
                let (endpoint, secret) = try await cluster.core.webhookEndpoints.create(
                    merchantID: merchantID, livemode: false, url: receiver.url, eventTypes: ["payment.succeeded"])
                let payment = try await client.payments.createPayment(createRequest(key: "webhook-1"), metadata: client.metadata)
                #expect(payment.status == .succeeded)
                try await waitUntil { !receiver.deliveredEventIDs.isEmpty }

                let requests = receiver.requests
                #expect(requests.count == 4, "three failures, then the delivery")
                #expect(Set(requests.map(\.eventID)).count == 1)
                let delivered = try #require(requests.last)
                try WebhookSignature.verify(body: delivered.body, header: delivered.signature, secret: secret, now: UnixClock.nowMs() / 1000)
                let text = String(decoding: delivered.body, as: UTF8.self)
                #expect(text.contains(#""type":"payment.succeeded""#) && text.contains(#""id":"\#(delivered.eventID)""#))
                #expect(text.contains(payment.id) && text.contains("SUCCEEDED"), "the payload is the payment as it was")
                #expect(!text.contains(TestCards.visaSuccess))

                // The dispatcher records the attempt just after the receiver answers.
                try await waitUntil {
                    try await cluster.core.webhookEndpoints.deliveryLog(merchantID: merchantID, eventID: delivered.eventID)
                        .first?.delivery.status == .delivered
                }
                let log = try await cluster.core.webhookEndpoints.deliveryLog(merchantID: merchantID, eventID: delivered.eventID)
                #expect(log.count == 1 && log.first?.delivery.endpointID == endpoint.id)
                let (delivery, attempts) = try #require(log.first)
                #expect(delivery.status == .delivered && delivery.attempts == 4)
                #expect(attempts.map(\.httpStatus) == [500, 500, 500, 200])
                #expect(attempts.first?.responseExcerpt == "simulated failure")
                let times = attempts.map(\.attemptedAtMs)
                let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
                #expect(gaps.count == 3 && gaps[0] >= 150 && gaps[1] >= 300 && gaps[2] >= 600, "backoff \(gaps)")
                // Without jitter each failure schedules the next try exactly the doubling ceiling after it ended.
                let scheduled = attempts.map { attempt in attempt.retryAtMs.map { $0 - attempt.attemptedAtMs - attempt.latencyMs } }
                #expect(scheduled == [150, 300, 600, nil], "backoff grows: \(scheduled)")

                // A manual resend delivers the same event again, with the same id.
                _ = try await cluster.core.webhookEndpoints.resend(merchantID: merchantID, eventID: delivered.eventID, endpointID: endpoint.id)
                try await waitUntil { receiver.requests.count == 5 }
                #expect(receiver.requests.last?.eventID == delivered.eventID && receiver.requests.last?.answered == 200)
            }
        } catch {
            try await receiver.stop()
            throw error
        }
        try await receiver.stop()
    }

    /// An endpoint that fails for the whole retry period is disabled, its deliveries fail, and
    /// a `webhook_endpoint.disabled` event announces it to the merchant's other endpoints.
    @Test func anEndpointFailingForTheWholeRetryPeriodIsDisabledAndAnnounced() async throws {
        let broken = try await WebhookReceiver.start(failFirst: Int.max)
        let healthy = try await WebhookReceiver.start()
        var webhooks = WebhookDispatcher.Configuration()
        webhooks.pollInterval = .milliseconds(20)
        webhooks.retry = WebhookRetryPolicy(initialDelayMs: 50, maximumDelayMs: 200, retryPeriodMs: 1_000, jitter: false)
        do {
            try await withCluster(webhooks: webhooks) { cluster, client, _, merchantID in
                let endpoints = cluster.core.webhookEndpoints
                let failing = try await endpoints.create(merchantID: merchantID, livemode: false, url: broken.url,
                                                         eventTypes: ["payment.succeeded"]).endpoint
                _ = try await endpoints.create(merchantID: merchantID, livemode: false, url: healthy.url,
                                               eventTypes: ["webhook_endpoint.disabled"])
                _ = try await client.payments.createPayment(createRequest(key: "disable-1"), metadata: client.metadata)
                try await waitUntil(seconds: 30) { !healthy.deliveredEventIDs.isEmpty }

                let notice = try #require(healthy.requests.first { $0.answered == 200 })
                let text = String(decoding: notice.body, as: UTF8.self)
                #expect(text.contains(#""type":"webhook_endpoint.disabled""#) && text.contains(failing.id))
                let endpoint = try await endpoints.get(merchantID: merchantID, id: failing.id)
                #expect(endpoint.status == .disabled && endpoint.disabledReason != nil)
                #expect(broken.requests.count >= 3 && broken.requests.allSatisfy { $0.answered == 500 })
                let paymentEvent = try #require(broken.requests.first?.eventID)
                let log = try await endpoints.deliveryLog(merchantID: merchantID, eventID: paymentEvent)
                #expect(log.first?.delivery.status == .failed, "retried for the whole period, then given up")
                #expect(log.first?.attempts.last?.retryAtMs == nil)
            }
        } catch {
            try await broken.stop()
            try await healthy.stop()
            throw error
        }
        try await broken.stop()
        try await healthy.stop()
    }

    @Test(.enabled(if: ClusterStore.available.contains(.postgres)), .timeLimit(.minutes(3)))
    func killingTheDispatcherMidDeliveryLosesNoEvent() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binary = root.appendingPathComponent(".build/debug/payrail").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the payrail executable first (swift build --build-tests)")
        try await withPostgresDatabase { location in
            let url = "postgres://\(location.username)@\(location.host):\(location.port)/\(location.database)"
            let store = try await PostgresStore.open(location, connections: .onDemand)
            let receiver = try await WebhookReceiver.start(delay: .milliseconds(150))
            let endpoints = WebhookEndpointService(store: store, now: UnixClock.nowMs)
            let (_, secret) = try await endpoints.create(merchantID: "acct_wh", livemode: false, url: receiver.url, eventTypes: ["*"])
            let eventIDs = (0..<40).map { "evt_kill_\($0)" }
            for id in eventIDs {
                try await store.write { tx in
                    try await tx.appendOutboxEvent(DomainEvent(id: id, type: .paymentSucceeded, merchantID: "acct_wh", livemode: false,
                                                               resourceID: "pay_\(id)", payload: [], createdAtMs: UnixClock.nowMs()))
                }
            }
            func startDispatcher() throws -> ChildProcess {
                try ChildProcess.start(binary, ["webhooks", "dispatch", "--postgres", url, "--lease-ms", "2000", "--timeout-ms", "1000",
                                                "--poll-ms", "20", "--initial-retry-ms", "200"])
            }
            var dispatcher = try startDispatcher()
            defer { dispatcher.killIfRunning() }

            // Kill it while deliveries are in flight (the receiver answers after 150 ms).
            try await waitUntil { receiver.requests.count >= 5 }
            kill(dispatcher.pid, SIGKILL)
            dispatcher.wait()
            let deliveredBeforeKill = receiver.deliveredEventIDs.count
            #expect(deliveredBeforeKill < eventIDs.count, "the kill came after everything was delivered")

            dispatcher = try startDispatcher()
            try await waitUntil { receiver.deliveredEventIDs == Set(eventIDs) }
            try await waitUntil {
                try await store.read { tx in
                    for id in eventIDs where try await tx.webhookDeliveries(eventID: id).first?.status != .delivered { return false }
                    return true
                }
            }
            kill(dispatcher.pid, SIGTERM)
            dispatcher.wait()

            // At least once, and nothing invented: deduplicated by event id, each arrives exactly once.
            #expect(receiver.deliveredEventIDs == Set(eventIDs))
            #expect(Set(receiver.requests.map(\.eventID)).isSubset(of: Set(eventIDs)))
            for request in receiver.requests {
                #expect(throws: Never.self) {
                    try WebhookSignature.verify(body: request.body, header: request.signature, secret: secret, now: UnixClock.nowMs() / 1000)
                }
            }
            let statuses = try await store.read { tx in
                var statuses: [WebhookDelivery.Status] = []
                for id in eventIDs { statuses += try await tx.webhookDeliveries(eventID: id).map(\.status) }
                return statuses
            }
            #expect(statuses.count == eventIDs.count && statuses.allSatisfy { $0 == .delivered })
            print("dispatcher kill: \(receiver.requests.count) requests for \(eventIDs.count) events (\(deliveredBeforeKill) before the kill)")
            try await receiver.stop()
            try await store.close()
        }
    }

    @Test(.enabled(if: ClusterStore.available.contains(.postgres)), .timeLimit(.minutes(3)))
    func twoDispatchersNeverSendTheSameAttemptAtOnce() async throws {
        try await withPostgresDatabase { location in
            let storeA = try await PostgresStore.open(location, connections: .onDemand)
            let storeB = try await PostgresStore.open(location, connections: .onDemand)
            let receiver = try await WebhookReceiver.start(delay: .milliseconds(30))
            _ = try await WebhookEndpointService(store: storeA, now: UnixClock.nowMs)
                .create(merchantID: "acct_two", livemode: false, url: receiver.url, eventTypes: ["*"])
            let eventIDs = (0..<60).map { "evt_two_\($0)" }
            for id in eventIDs {
                try await storeA.write { tx in
                    try await tx.appendOutboxEvent(DomainEvent(id: id, type: .paymentSucceeded, merchantID: "acct_two", livemode: false,
                                                               resourceID: "pay_\(id)", payload: [], createdAtMs: UnixClock.nowMs()))
                }
            }
            var configuration = WebhookDispatcher.Configuration()
            configuration.pollInterval = .milliseconds(10)
            configuration.batchSize = 8
            let a = WebhookDispatcher(store: storeA, configuration: configuration, now: UnixClock.nowMs)
            let b = WebhookDispatcher(store: storeB, configuration: configuration, now: UnixClock.nowMs)
            let group = ServiceGroup(configuration: .init(services: [.init(service: a), .init(service: b)], logger: .init(label: "test")))
            let running = Task { try await group.run() }
            try await waitUntil { receiver.deliveredEventIDs == Set(eventIDs) }
            try await waitUntil { a.statistics.delivered + b.statistics.delivered == eventIDs.count }
            await group.triggerGracefulShutdown()
            _ = await running.result

            #expect(receiver.deliveredEventIDs == Set(eventIDs))
            #expect(receiver.overlaps == 0, "an event was in flight from both dispatchers at once")
            #expect(receiver.requests.count == eventIDs.count, "every event sent exactly once")
            #expect(a.statistics.delivered + b.statistics.delivered == eventIDs.count)
            #expect(a.statistics.delivered > 0 && b.statistics.delivered > 0, "both dispatchers took part: \(a.statistics) \(b.statistics)")
            try await receiver.stop()
            try await storeA.close()
            try await storeB.close()
        }
    }

    /// The money-lifecycle events reach merchants like payment events: an endpoint subscribed to
    /// chargebacks gets `dispute.created` signed, with the dispute as its object.
    @Test func disputeEventsAreDeliveredSigned() async throws {
        let receiver = try await WebhookReceiver.start()
        var webhooks = WebhookDispatcher.Configuration()
        webhooks.pollInterval = .milliseconds(20)
        do {
            try await withCluster(webhooks: webhooks) { _, client, _, _ in
                let endpoint = try await client.webhooks.createWebhookEndpoint(.with {
                    $0.url = receiver.url
                    $0.eventTypes = ["dispute.created", "dispute.closed", "payout.paid", "invoice.paid"]
                }, metadata: client.metadata)
                let payment = try await client.payments.createPayment(createRequest(key: "hook-dispute", card: TestCards.disputed), metadata: client.metadata)
                try await waitUntil(seconds: 20) { !receiver.requests.isEmpty }
                let delivered = try #require(receiver.requests.first)
                try WebhookSignature.verify(body: delivered.body, header: delivered.signature, secret: endpoint.secret, now: UnixClock.nowMs() / 1000)
                let body = String(decoding: delivered.body, as: UTF8.self)
                #expect(body.contains(#""type":"dispute.created""#) && body.contains(#""payment_id":"\#(payment.id)""#), "\(body)")
                #expect(!body.contains(TestCards.disputed))
            }
        } catch {
            try await receiver.stop()
            throw error
        }
        try await receiver.stop()
    }

    /// The endpoints API over gRPC through an edge: the secret is shown on create and rotate
    /// only, a rotation signs with both secrets, the delivery log is readable, bad input gets
    /// typed errors, and a deleted endpoint is gone.
    @Test func endpointsAPIOverGRPC() async throws {
        let receiver = try await WebhookReceiver.start()
        var webhooks = WebhookDispatcher.Configuration()
        webhooks.pollInterval = .milliseconds(20)
        do {
            try await withCluster(webhooks: webhooks, metricsPort: 0) { cluster, client, _, _ in
                let api = client.webhooks
                let created = try await api.createWebhookEndpoint(.with {
                    $0.url = receiver.url
                    $0.eventTypes = ["payment.succeeded"]
                    $0.description_p = "orders"
                }, metadata: client.metadata)
                #expect(created.secret.hasPrefix("whsec_") && created.secret.count == 70 && created.status == .enabled && !created.livemode)
                let listed = try await api.listWebhookEndpoints(.init(), metadata: client.metadata).endpoints
                #expect(listed.map(\.id) == [created.id] && listed[0].secret.isEmpty, "the secret is never listed")

                _ = try await client.payments.createPayment(createRequest(key: "grpc-webhook-1"), metadata: client.metadata)
                try await waitUntil { receiver.deliveredEventIDs.count == 1 }
                let first = try #require(receiver.requests.first)
                try WebhookSignature.verify(body: first.body, header: first.signature, secret: created.secret, now: UnixClock.nowMs() / 1000)
                try await waitUntil {
                    try await api.listWebhookDeliveries(.with { $0.eventID = first.eventID }, metadata: client.metadata)
                        .deliveries.first?.status == .delivered
                }
                let log = try await api.listWebhookDeliveries(.with { $0.eventID = first.eventID }, metadata: client.metadata).deliveries
                #expect(log.count == 1 && log[0].attemptLog.map(\.httpStatus) == [200] && log[0].endpointID == created.id)

                let rotated = try await api.rotateWebhookSecret(.with { $0.endpointID = created.id; $0.overlapSeconds = 3_600 },
                                                               metadata: client.metadata)
                #expect(rotated.secret.hasPrefix("whsec_") && rotated.secret != created.secret)
                _ = try await client.payments.createPayment(createRequest(key: "grpc-webhook-2"), metadata: client.metadata)
                try await waitUntil { receiver.deliveredEventIDs.count == 2 }
                let second = try #require(receiver.requests.last)
                #expect(second.signature.components(separatedBy: ",v1=").count == 3, "both secrets sign during the overlap")
                for secret in [created.secret, rotated.secret] {
                    try WebhookSignature.verify(body: second.body, header: second.signature, secret: secret, now: UnixClock.nowMs() / 1000)
                }

                let disabled = try await api.updateWebhookEndpoint(.with { $0.endpointID = created.id; $0.enabled = false },
                                                                  metadata: client.metadata)
                #expect(disabled.status == .disabled && disabled.secret.isEmpty)

                // The dispatcher's metrics, scraped like Prometheus would.
                let metricsPort = try #require(cluster.metricsPort)
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics"),
                                                                   timeout: .seconds(5))
                let metrics = String(buffer: try await response.body.collect(upTo: 1 << 20))
                #expect(response.status == .ok)
                #expect(metrics.contains(#"payrail_webhook_deliveries_total{result="delivered"}"#), "\(metrics.prefix(500))")
                #expect(metrics.contains("payrail_webhook_queue_depth") && metrics.contains("payrail_webhook_oldest_undelivered_seconds"))
                #expect(!metrics.contains(TestCards.visaSuccess))
                let lines = metrics.split(separator: "\n")
                #expect(lines.contains { $0.hasPrefix("payrail_edge_requests_total{") && $0.contains(#"method="CreateWebhookEndpoint""#)
                    && $0.contains(#"code="OK""#) }, "requests by method and status")
                #expect(lines.contains { $0.hasPrefix("payrail_edge_request_duration_seconds_bucket{") && $0.contains(#"method="CreatePayment""#) },
                        "latency histogram")

                let badURL = await rpcFailure {
                    _ = try await api.createWebhookEndpoint(.with { $0.url = "ftp://example.test/x"; $0.eventTypes = ["*"] }, metadata: client.metadata)
                }
                #expect(badURL?.0 == .invalidArgument && badURL?.1 == "invalid_request")
                do {
                    _ = try await api.getWebhookEndpoint(.with { $0.endpointID = "we_missing" }, metadata: client.metadata)
                } catch let error as RPCError {
                    let requestID = error.metadata[stringValues: "payrail-request-id"].first(where: { _ in true }) ?? ""
                    #expect(requestID.hasPrefix("req_") && requestID.count == 20, "errors carry the request id the core logs too")
                }
                let badType = await rpcFailure {
                    _ = try await api.createWebhookEndpoint(.with { $0.url = receiver.url; $0.eventTypes = ["payment.exploded"] },
                                                            metadata: client.metadata)
                }
                #expect(badType?.0 == .invalidArgument && badType?.1 == "invalid_request")

                _ = try await api.deleteWebhookEndpoint(.with { $0.endpointID = created.id }, metadata: client.metadata)
                let gone = await rpcFailure {
                    _ = try await api.getWebhookEndpoint(.with { $0.endpointID = created.id }, metadata: client.metadata)
                }
                #expect(gone?.0 == .notFound && gone?.1 == "resource_missing")
            }
        } catch {
            try await receiver.stop()
            throw error
        }
        try await receiver.stop()
    }
}
