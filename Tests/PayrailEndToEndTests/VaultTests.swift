import Foundation
import GRPCCore
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import PayrailStore
import Testing

/// The card vault (issue 6): envelope encryption refuses tampering, fingerprints are stable,
/// key rotation with a rewrap keeps every card readable, every detokenization is logged, and
/// erasing a customer crypto-shreds their cards while the ledger stays intact.
@Suite struct VaultTests {
    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-vault-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func card(_ number: String) throws -> CardInput {
        try CardInput(number: number, expMonth: 12, expYear: 2034, cvc: "123", holderName: "", today: CalendarMonth(unixMillis: 1_700_000_000_000))
    }

    @Test func roundTripAndTamperingIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let vault = CardVault(keys: try FileKeyring(path: directory + "/keyring"), ids: .system)
        let first = try vault.seal(try card("4242424242424242"), merchantID: "acct_1", nowMs: 1)
        let second = try vault.seal(try card("5555555555554444"), merchantID: "acct_1", nowMs: 1)
        #expect(first.summary.token.hasPrefix("tok_") && first.summary.token.count >= 4 + 26, "tok_ + at least 128 random bits")
        #expect(try vault.reveal(first).revealDigits() == "4242424242424242")
        #expect(!first.sealedPAN.contains(Array("4242424242424242".utf8)), "the PAN is not stored in clear")

        var tampered = first
        tampered.sealedPAN[tampered.sealedPAN.count / 2] ^= 0x01
        #expect(throws: VaultError.decryptionFailed) { try vault.reveal(tampered) }
        var wrongKey = first
        wrongKey.wrappedDataKey[4] ^= 0x80
        #expect(throws: VaultError.decryptionFailed) { try vault.reveal(wrongKey) }
        // Another token's ciphertext under this token (wrong associated data).
        var moved = first
        moved.sealedPAN = second.sealedPAN
        moved.wrappedDataKey = second.wrappedDataKey
        #expect(throws: VaultError.decryptionFailed) { try vault.reveal(moved) }
        var erased = first
        erased.erasedAtMs = 5
        #expect(throws: VaultError.erased) { try vault.reveal(erased) }
    }

    @Test func fingerprintsAreStablePerPlatformKey() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let one = CardVault(keys: try FileKeyring(path: directory + "/keyring"), ids: .system)
        let again = CardVault(keys: try FileKeyring(path: directory + "/keyring"), ids: .system)
        let other = CardVault(keys: try FileKeyring(path: directory + "/other-keyring"), ids: .system)
        let pan = try CardNumber("4242424242424242")
        #expect(one.fingerprint(of: pan) == again.fingerprint(of: pan))
        #expect(one.fingerprint(of: pan) != one.fingerprint(of: try CardNumber("5555555555554444")))
        #expect(one.fingerprint(of: pan) != other.fingerprint(of: pan), "keyed: another platform key, another fingerprint")
    }

    /// Rotation: new cards under the new KEK at once, old ones still open, the rewrap moves
    /// them all, and a second rewrap has nothing left to do.
    @Test(arguments: ClusterStore.available)
    func rotationThenRewrapKeepsEveryCardReadable(store kind: ClusterStore) async throws {
        try await withCluster(store: kind) { cluster, _, _, _ in
            let keyring = try FileKeyring(path: cluster.pki.directory + "/../keyring")
            let vault = CardVault(keys: keyring, ids: .system)
            var tokens: [String] = []
            for _ in 0..<5 {
                let record = try vault.seal(try card("4242424242424242"), merchantID: "acct_rot", nowMs: 1)
                try await cluster.store.write { try await $0.insertVaultedCard(record) }
                tokens.append(record.summary.token)
            }
            let before = vault.currentKeyVersion
            let next = try FileKeyring.rotate(path: keyring.path)
            #expect(next == before + 1)
            try vault.refreshKeys()
            let fresh = try vault.seal(try card("5555555555554444"), merchantID: "acct_rot", nowMs: 2)
            #expect(fresh.keyVersion == next, "new cards use the new key at once")
            for token in tokens {
                let record = try #require(try await cluster.store.read { try await $0.vaultedCard(token: token) })
                let last4 = try vault.reveal(record).last4
                #expect(record.keyVersion == before && last4 == "4242", "old cards still open")
            }
            let rewrapper = VaultRewrapper(store: cluster.store, vault: vault)
            let moved = try await rewrapper.runToCompletion()
            #expect(moved + cluster.core.vaultRewrapper.rewrapped >= 5, "this rewrapper or the core's moved them")
            for token in tokens {
                let record = try #require(try await cluster.store.read { try await $0.vaultedCard(token: token) })
                let last4 = try vault.reveal(record).last4
                #expect(record.keyVersion == next && last4 == "4242")
            }
            #expect(try await rewrapper.runToCompletion() == 0)
        }
    }

    /// Every detokenization is logged (who, which card, why); erasing a customer makes their
    /// tokens unusable with a clear error, other customers' cards keep working, and the ledger
    /// still verifies with its amounts unchanged.
    @Test(arguments: ClusterStore.available)
    func accessLogAndCryptoShredding(store kind: ClusterStore) async throws {
        try await withCluster(store: kind) { cluster, client, _, merchantID in
            func tokenize(_ number: String, customer: String) async throws -> String {
                try await client.tokens.createCardToken(.with {
                    $0.card = .with { $0.number = number; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = "123" }
                    $0.customerID = customer
                }, metadata: client.metadata).token
            }
            func pay(_ token: String, _ key: String) async throws -> Payrail_V1_Payment {
                try await client.payments.createPayment(.with {
                    $0.idempotencyKey = key
                    $0.amount = .with { $0.amountMinor = 2_500; $0.currency = "USD" }
                    $0.cardToken = token
                }, metadata: client.metadata)
            }
            let alice1 = try await tokenize("4242424242424242", customer: "cus_alice")
            let alice2 = try await tokenize("5555555555554444", customer: "cus_alice")
            let bob = try await tokenize("4242424242424242", customer: "cus_bob")
            let paid = try await pay(alice1, "alice-1")
            #expect(paid.status == .succeeded)
            let log = try await cluster.store.read { try await $0.vaultAccesses(token: alice1, limit: 10) }
            #expect(log.count == 1 && log[0].actor.hasPrefix("connector:") && log[0].purpose == "authorize \(paid.id)"
                    && log[0].merchantID == merchantID)
            let ledgerBefore = try await cluster.core.ledger.verify()

            let erased = try await client.tokens.eraseCustomer(.with { $0.customerID = "cus_alice" }, metadata: client.metadata)
            #expect(erased.cardsErased == 2)
            for token in [alice1, alice2] {
                let failure = await rpcFailure { _ = try await pay(token, "after-erase-\(token)") }
                #expect(failure?.0 == .failedPrecondition && failure?.1 == "card_erased")
                let record = try #require(try await cluster.store.read { try await $0.vaultedCard(token: token) })
                #expect(record.erasedAtMs != nil && record.wrappedDataKey.isEmpty && !record.sealedPAN.isEmpty,
                        "the key is gone, the ciphertext stays unreadable")
            }
            #expect(try await pay(bob, "bob-1").status == .succeeded, "other customers are untouched")
            #expect(try await client.tokens.eraseCustomer(.with { $0.customerID = "cus_alice" }, metadata: client.metadata).cardsErased == 0)
            let report = try await cluster.core.ledger.verify()
            #expect(report.isValid && report.transactions > ledgerBefore.transactions)
            let kept = try await client.payments.getPayment(.with { $0.paymentID = paid.id }, metadata: client.metadata)
            #expect(kept.amountCapturedMinor == 2_500 && kept.card.last4 == "4242", "payments keep their amounts and card summary")
            let bad = await rpcFailure { _ = try await client.tokens.eraseCustomer(.init(), metadata: client.metadata) }
            #expect(bad?.0 == .invalidArgument && bad?.1 == "missing_field")
        }
    }

    /// Regional read replicas come from PostgreSQL's own streaming replication (scripts/test
    /// runs a standby of the test server): a card vaulted through the primary (one region) is
    /// read from the standby (another region) and opens with the same KEK.
    @Test(.timeLimit(.minutes(2)))
    func aTokenVaultedOnThePrimaryOpensFromAStandby() async throws {
        guard ClusterStore.available.contains(.postgres) else { return }
        let environment = ProcessInfo.processInfo.environment
        guard let standbyURL = environment["PAYRAIL_TEST_POSTGRES_STANDBY_URL"], let standby = PostgresStore.Location(url: standbyURL) else {
            Issue.record("PAYRAIL_TEST_POSTGRES_STANDBY_URL is not set: run scripts/test, which starts a standby")
            return
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withPostgresDatabase { primaryLocation in
            let primary = try await PostgresStore.open(primaryLocation)
            let vault = CardVault(keys: try FileKeyring(path: directory + "/keyring"), ids: .system)
            let record = try vault.seal(try card("5555555555554444"), merchantID: "acct_eu", nowMs: 1)
            try await primary.write { try await $0.insertVaultedCard(record) }
            try await primary.close()
            // The test database exists on the standby once replication has carried it over.
            var replicaLocation = standby
            replicaLocation.database = primaryLocation.database
            var seen: VaultedCardRecord?
            for _ in 0..<150 where seen == nil {
                if let replica = try? await PostgresStore.openReplica(replicaLocation) {
                    seen = try? await replica.read { try await $0.vaultedCard(token: record.summary.token) }
                    try? await replica.close()
                }
                if seen == nil { try await Task.sleep(for: .milliseconds(200)) }
            }
            let replicated = try #require(seen, "the standby never received the card")
            #expect(try vault.reveal(replicated).revealDigits() == "5555555555554444", "the other region opens it with the same KEK")
        }
    }
}
