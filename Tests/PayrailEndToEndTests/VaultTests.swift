import Crypto
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
        // The stored format: the first 16 bytes of HMAC-SHA256(fingerprint key, PAN digits) in
        // lowercase hex. Fingerprints already stored must keep matching new ones.
        let mac = HMAC<SHA256>.authenticationCode(for: Array("4242424242424242".utf8),
                                                  using: try FileKeyring(path: directory + "/keyring").fingerprintKey)
        #expect(one.fingerprint(of: pan) == mac.prefix(16).map { String(format: "%02x", $0) }.joined())
        #expect(one.fingerprint(ofAccount: "ach:110000000:000123456789").utf8.count == 32)
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
                try await cluster.vaultStore.insertCard(record)
                tokens.append(record.summary.token)
            }
            let before = vault.currentKeyVersion
            let next = try FileKeyring.rotate(path: keyring.path)
            #expect(next == before + 1)
            try vault.refreshKeys()
            let fresh = try vault.seal(try card("5555555555554444"), merchantID: "acct_rot", nowMs: 2)
            #expect(fresh.keyVersion == next, "new cards use the new key at once")
            for token in tokens {
                let record = try #require(try await cluster.vaultStore.card(token: token))
                let last4 = try vault.reveal(record).last4
                #expect(record.keyVersion == before && last4 == "4242", "old cards still open")
            }
            let rewrapper = VaultRewrapper(store: cluster.vaultStore, vault: vault)
            let moved = try await rewrapper.runToCompletion()
            // The core's rewrapper runs concurrently: a card it wrote may be counted only once its
            // conditional update returns, just after this rewrapper found the version moved.
            let counted = await eventually(timeout: .seconds(5)) { moved + cluster.core.vaultRewrapper.rewrapped >= 5 }
            #expect(counted, "this rewrapper or the core's moved them")
            #expect(moved + cluster.core.vaultRewrapper.rewrapped == 5, "each card moved once")
            for token in tokens {
                let record = try #require(try await cluster.vaultStore.card(token: token))
                let last4 = try vault.reveal(record).last4
                #expect(record.keyVersion == next && last4 == "4242")
            }
            #expect(try await rewrapper.runToCompletion() == 0)
        }
    }

    /// A payment with a raw card vaults the card under the token it returns (in the claim's
    /// transaction on SQLite, right after it on PostgreSQL): the token charges again later.
    @Test(arguments: ClusterStore.available)
    func aRawCardPaymentVaultsItsCardUnderTheReturnedToken(store kind: ClusterStore) async throws {
        try await withCluster(store: kind) { cluster, client, _, merchantID in
            let paid = try await client.payments.createPayment(createRequest(key: "raw-1", card: "5555555555554444"), metadata: client.metadata)
            #expect(paid.status == .succeeded)
            let record = try #require(try await cluster.vaultStore.card(token: paid.card.token))
            #expect(record.merchantID == merchantID && record.summary.last4 == "4444")
            let again = try await client.payments.createPayment(.with {
                $0.idempotencyKey = "raw-1-token"
                $0.amount = .with { $0.amountMinor = 1_500; $0.currency = "USD" }
                $0.cardToken = paid.card.token
            }, metadata: client.metadata)
            #expect(again.status == .succeeded && again.card.last4 == "4444")
            // A replay of the first request returns the same payment and vaults nothing new.
            let replay = try await client.payments.createPayment(createRequest(key: "raw-1", card: "5555555555554444"), metadata: client.metadata)
            #expect(replay.id == paid.id && replay.card.token == paid.card.token)
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
            let log = try await cluster.vaultStore.accesses(token: alice1, limit: 10)
            #expect(log.count == 1 && log[0].actor.hasPrefix("connector:") && log[0].purpose == "authorize \(paid.id)"
                    && log[0].merchantID == merchantID)
            let ledgerBefore = try await cluster.core.ledger.verify()

            let erased = try await client.tokens.eraseCustomer(.with { $0.customerID = "cus_alice" }, metadata: client.metadata)
            #expect(erased.cardsErased == 2)
            for token in [alice1, alice2] {
                let failure = await rpcFailure { _ = try await pay(token, "after-erase-\(token)") }
                #expect(failure?.0 == .failedPrecondition && failure?.1 == "card_erased")
                let record = try #require(try await cluster.vaultStore.card(token: token))
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
    /// runs a standby of the test server): a region's core reads vaulted cards from its standby,
    /// falls back to the primary for a card the standby has not received yet, and writes (the
    /// access log, new cards) go to the primary. A token created through one region's edge is
    /// charged through another region's edge and core, whose vault reads come from the standby.
    @Test(.timeLimit(.minutes(2)))
    func aRegionalCoreReadsTheVaultFromItsStandby() async throws {
        guard ClusterStore.available.contains(.postgres) else { return }
        let environment = ProcessInfo.processInfo.environment
        guard let standbyURL = environment["PAYRAIL_TEST_POSTGRES_STANDBY_URL"], let standby = PostgresStore.Location(url: standbyURL) else {
            Issue.record("PAYRAIL_TEST_POSTGRES_STANDBY_URL is not set: run scripts/test, which starts a standby")
            return
        }
        try await withPostgresDatabase { location in
            let vaultLocation = try await PostgresVaultStore.provision(admin: location)
            var replica = standby
            replica.database = location.database
            replica.username = vaultLocation.username
            // Region "us" (the primary's region) creates the token; region "eu" reads its own standby.
            let home = try temporaryDirectory()
            let away = try temporaryDirectory()
            defer {
                try? FileManager.default.removeItem(atPath: home)
                try? FileManager.default.removeItem(atPath: away)
            }
            var homeOptions = LocalCluster.Options(dataDirectory: home)
            homeOptions.postgres = location
            homeOptions.vault = .init(primary: vaultLocation)
            homeOptions.connector = CardNetworkSimulator(configuration: .instant)
            let us = try await LocalCluster.start(homeOptions)
            // Both regions share the platform's KEK and fingerprint key (one keyring).
            try FileManager.default.copyItem(atPath: home + "/keyring", toPath: away + "/keyring")
            var awayOptions = LocalCluster.Options(dataDirectory: away)
            awayOptions.postgres = location
            awayOptions.vault = .init(primary: vaultLocation, replica: replica)
            awayOptions.connector = CardNetworkSimulator(configuration: .instant)
            let eu: LocalCluster
            do { eu = try await LocalCluster.start(awayOptions) } catch {
                try await us.shutdown()
                throw error
            }
            do {
                let regional = try #require(eu.vaultStore as? RegionalVaultStore)
                let merchant = try await us.core.apiKeys.createMerchant(name: "Two regions")
                let usClient = try EdgeClient(port: us.edgePorts[0], caPath: us.pki.caCertificatePath, apiKey: merchant.apiKey)
                let euClient = try EdgeClient(port: eu.edgePorts[0], caPath: eu.pki.caCertificatePath, apiKey: merchant.apiKey)
                defer { Task { await usClient.close(); await euClient.close() } }
                let token = try await usClient.tokens.createCardToken(.with {
                    $0.card = .with { $0.number = "5555555555554444"; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = "123" }
                }, metadata: usClient.metadata).token
                // Wait for streaming replication to carry the card to the standby.
                var replicated: VaultedCardRecord?
                for _ in 0..<150 where replicated == nil {
                    replicated = try? await regional.replica.card(token: token)
                    if replicated == nil { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(replicated != nil, "the standby never received the card")
                let hitsBefore = regional.statistics.replicaHits
                let paid = try await euClient.payments.createPayment(.with {
                    $0.idempotencyKey = "eu-1"
                    $0.amount = .with { $0.amountMinor = 4_200; $0.currency = "EUR" }
                    $0.cardToken = token
                }, metadata: euClient.metadata)
                #expect(paid.status == .succeeded && paid.card.last4 == "4444")
                #expect(regional.statistics.replicaHits > hitsBefore, "the eu core read the card from its standby")
                // The detokenization was logged on the primary, readable from the home region.
                let log = try await us.vaultStore.accesses(token: token, limit: 5)
                #expect(log.count == 1 && log[0].purpose == "authorize \(paid.id)")
                // A token charged the moment it is created: the standby may not have it yet, the
                // primary answers.
                let fresh = try await usClient.tokens.createCardToken(.with {
                    $0.card = .with { $0.number = "4242424242424242"; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = "123" }
                }, metadata: usClient.metadata).token
                let immediate = try await euClient.payments.createPayment(.with {
                    $0.idempotencyKey = "eu-2"
                    $0.amount = .with { $0.amountMinor = 900; $0.currency = "EUR" }
                    $0.cardToken = fresh
                }, metadata: euClient.metadata)
                #expect(immediate.status == .succeeded)
                #expect(try await eu.core.ledger.verify().isValid)
            } catch {
                try? await eu.shutdown()
                try? await us.shutdown()
                throw error
            }
            try await eu.shutdown()
            try await us.shutdown()
        }
    }

    /// The vault's own schema and credentials: the payments role (not a superuser, as in
    /// production) cannot read vault tables, and the vault role cannot read payments.
    /// Cards stored at once share statements and commits on PostgreSQL; every card is stored
    /// exactly once whatever it shared its statement with, a token stored twice stays as first
    /// written, and a card the database refuses fails alone.
    @Test func cardsStoredTogetherAreEachStoredOnceAndARefusedOneFailsAlone() async throws {
        guard ClusterStore.available.contains(.postgres) else { return }
        try await withPostgresDatabase { location in
            let vault = try await PostgresVaultStore.open(try await PostgresVaultStore.provision(admin: location), connections: .onDemand)
            func record(_ index: Int, last4: String = "4242", version: Int = 1) -> VaultedCardRecord {
                VaultedCardRecord(summary: CardSummary(token: "tok_c\(index)", brand: .visa, last4: last4, expMonth: 12, expYear: 2034,
                                                       fingerprint: "fp\(index)", country: "US"),
                                  merchantID: "acct_1", sealedPAN: [UInt8(index % 256), 0, 0x27, 0x5c], wrappedDataKey: [1, 2, 3],
                                  keyVersion: version, createdAtMs: Int64(index))
            }
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        // Every 50th card breaks the schema's last4 check; every 7th is sent twice.
                        let card = index % 50 == 49 ? record(index, last4: "42") : record(index)
                        do {
                            try await vault.insertCard(card)
                            if index % 7 == 0 { try await vault.insertCard(record(index, version: 2)) }
                            return (index, true)
                        } catch {
                            return (index, false)
                        }
                    }
                }
                return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            }
            for index in 0..<200 {
                #expect(outcomes[index] == (index % 50 != 49), "card \(index)")
                let stored = try await vault.card(token: "tok_c\(index)")
                if index % 50 == 49 {
                    #expect(stored == nil, "refused card \(index) stored")
                } else {
                    #expect(stored == record(index), "card \(index) as first written")
                }
            }
            try await vault.close()
        }
    }

    @Test func theVaultSchemaIsClosedToThePaymentsRoleAndViceVersa() async throws {
        guard ClusterStore.available.contains(.postgres) else { return }
        try await withPostgresDatabase { location in
            try await withCluster(store: .postgres, postgresLocation: location) { cluster, client, _, _ in
                let token = try await client.tokens.createCardToken(.with {
                    $0.card = .with { $0.number = "4242424242424242"; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = "123" }
                }, metadata: client.metadata).token
                _ = try await client.payments.createPayment(createRequest(key: "roles-1"), metadata: client.metadata)
                _ = try await client.payments.createPayment(.with {
                    $0.idempotencyKey = "roles-2"
                    $0.amount = .with { $0.amountMinor = 700; $0.currency = "USD" }
                    $0.cardToken = token
                }, metadata: client.metadata)
                // A login role like the payments service's in production: owns nothing in vault.
                try await adminQuery(location, "DO $$ BEGIN CREATE ROLE payrail_app_probe LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
                try await adminQuery(location, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO payrail_app_probe")
                var app = location
                app.username = "payrail_app_probe"
                #expect(try await sqlState(app, "SELECT count(*) FROM payments") == nil, "the app role reads payments")
                #expect(try await sqlState(app, "SELECT sealed_pan FROM vault.cards") == "42501", "permission denied on the vault schema")
                #expect(try await sqlState(app, "SELECT * FROM vault.access_log") == "42501")
                var vault = location
                vault.username = PostgresVaultStore.defaultRole
                #expect(try await sqlState(vault, "SELECT count(*) FROM vault.cards") == nil, "the vault role reads its cards")
                #expect(try await sqlState(vault, "SELECT count(*) FROM payments") == "42501", "the vault role cannot read payments")
                #expect(try await sqlState(vault, "DELETE FROM vault.access_log") == "P0001", "the access log is append-only")
                let publicVaultTables = try await adminQuery(location, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'vault%'")
                #expect(publicVaultTables == 0, "no vault table outside the vault schema")
                _ = cluster
            }
        }
    }
}
