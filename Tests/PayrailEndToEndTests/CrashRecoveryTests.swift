import Foundation
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import PayrailStore
import Synchronization
import Testing

/// A connector in front of the network that, on the first authorization, lets the network do
/// its work and then does not answer until the test wakes it, and then only with a timeout:
/// the request is as good as dead until then, and comes back late.
final class DyingConnector: CardConnector {
    let network: CardNetworkSimulator
    private let called = Mutex(false)
    private let (wake, waker) = AsyncStream<Void>.makeStream()
    var name: String { network.name }

    init(network: CardNetworkSimulator) { self.network = network }

    var wasCalled: Bool { called.withLock { $0 } }
    func wakeUp() { waker.finish() }

    func authorize(_ request: AuthorizationRequest) async throws(ConnectorError) -> AuthorizationOutcome {
        _ = try await network.authorize(request)
        called.withLock { $0 = true }
        for await _ in wake {}
        throw .timeout
    }
    func completeChallenge(reference: ChallengeReference, otp: String, idempotencyKey: String) async throws(ConnectorError) -> ChallengeOutcome {
        try await network.completeChallenge(reference: reference, otp: otp, idempotencyKey: idempotencyKey)
    }
    func capture(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await network.capture(processorReference: processorReference, amount: amount, idempotencyKey: idempotencyKey)
    }
    func void(processorReference: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await network.void(processorReference: processorReference, idempotencyKey: idempotencyKey)
    }
    func refund(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await network.refund(processorReference: processorReference, amount: amount, idempotencyKey: idempotencyKey)
    }
    func authorizationStatus(idempotencyKey: String) async throws(ConnectorError) -> AuthorizationStatus {
        try await network.authorizationStatus(idempotencyKey: idempotencyKey)
    }
    func reverseAuthorization(idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await network.reverseAuthorization(idempotencyKey: idempotencyKey)
    }
    func submitDisputeEvidence(networkDisputeID: String, evidence: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await network.submitDisputeEvidence(networkDisputeID: networkDisputeID, evidence: evidence, idempotencyKey: idempotencyKey)
    }
    func acceptDispute(networkDisputeID: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await network.acceptDispute(networkDisputeID: networkDisputeID, idempotencyKey: idempotencyKey)
    }
    func pendingNotifications(limit: Int) async throws(ConnectorError) -> [ConnectorNotification] {
        try await network.pendingNotifications(limit: limit)
    }
    func acknowledgeNotifications(ids: [String]) async throws(ConnectorError) {
        try await network.acknowledgeNotifications(ids: ids)
    }
}

@Suite(.serialized) struct CrashRecoveryTests {
    @Test func aRequestThatDiedMidFlightIsResumedByItsRetryAndChargesOnce() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-crash-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = try FileKeyring(path: directory + "/keyring")
        let network = CardNetworkSimulator(configuration: .instant)
        var leaseConfiguration = PaymentService.Configuration()
        leaseConfiguration.idempotencyLeaseMs = 300
        let configuration = leaseConfiguration
        let caller = CallerContext(merchantID: "acct_crash", livemode: false)
        let command = try ProtoMapping.createPaymentCommand(createRequest(key: "crash-1", amount: 7_700),
                                                            today: CalendarMonth(year: 2026, month: 1))
        func service(_ store: SQLiteStore, _ connector: any CardConnector) -> PaymentService {
            PaymentService(store: store, vaultStore: store.vault, connector: connector, vault: CardVault(keys: keys, ids: .system), codec: ProtobufSnapshotCodec(),
                           now: UnixClock.nowMs, configuration: configuration)
        }

        // The first node claims the key, records the payment, reaches the network, and dies.
        let firstStore = try await SQLiteStore.open(path: directory + "/payrail.sqlite")
        let dying = DyingConnector(network: network)
        let doomedService = service(firstStore, dying)
        let doomed = Task { try await doomedService.createPayment(caller, command) }
        while !dying.wasCalled { try await Task.sleep(for: .milliseconds(5)) }
        let halfway = try await firstStore.read { try await $0.listPayments(merchantID: "acct_crash", livemode: false, status: nil, after: nil, limit: 10) }
        #expect(halfway.count == 1 && halfway.first?.status == .processing)

        // A restarted node gets the merchant's retry: it waits out the lease, takes over, and
        // repeats the authorization under the same processor-side key.
        let secondStore = try await SQLiteStore.open(path: directory + "/payrail.sqlite")
        let retried = try await service(secondStore, network).createPayment(caller, command)
        guard case .current(let payment) = retried else { Issue.record("expected a resumed payment"); return }
        #expect(payment.id == halfway.first?.id && payment.status == .succeeded)
        #expect(network.authorizationCount() == 1)

        // The original wakes up late (its answer timed out): it must not overwrite its
        // successor's finished record.
        dying.wakeUp()
        guard case .current(let late) = try await doomed.value else { Issue.record("the late original should answer"); return }
        #expect(late.id == payment.id)
        let replay = try await service(secondStore, network).createPayment(caller, command)
        guard case .replayed(let bytes) = replay else { Issue.record("expected a replay"); return }
        #expect(try Payrail_V1_Payment(serializedBytes: bytes).status == .succeeded)
        let report = try await LedgerVerifier(store: secondStore).verify()
        #expect(report.isValid && report.transactions == 2) // authorization + capture, once
        try await firstStore.close()
        try await secondStore.close()
    }
}
