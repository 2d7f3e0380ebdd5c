import Foundation
import PayrailDomain
import PayrailStore
import SQLiteNIO
import Testing

/// The store contract: every implementation of `PaymentStore` passes the same tests.
@Suite struct StoreContractTests {
    private func transaction(_ id: String) throws -> LedgerTransaction { try Self.transaction(id) }

    private static func transaction(_ id: String) throws -> LedgerTransaction {
        let a = LedgerAccount.merchantAvailable("acct_1", livemode: false, .usd)
        let b = LedgerAccount.processorReceivable("cardsim", livemode: false, .usd)
        return try LedgerTransaction(id: id, kind: .capture, resourceID: "pay_1", entries: [.debit(b, 500), .credit(a, 500)], createdAtMs: 1)
    }

    @Test(arguments: StoreKind.available)
    func ledgerIsAppendOnlyInTheDatabaseItself(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, raw in
            try await store.write { tx in try await tx.appendLedgerTransaction(try transaction("ltx_1")) }
            await #expect(throws: (any Error).self) { try await raw("UPDATE ledger_entries SET amount_minor = 1") }
            await #expect(throws: (any Error).self) { try await raw("DELETE FROM ledger_entries") }
            await #expect(throws: (any Error).self) { try await raw("DELETE FROM ledger_transactions") }
            await #expect(throws: (any Error).self) { try await raw("UPDATE ledger_transactions SET kind = 'void'") }
            if kind == .postgres {
                await #expect(throws: (any Error).self) { try await raw("TRUNCATE ledger_entries CASCADE") }
            }
            let balances = try await store.read { try await $0.accountBalances(keyPrefix: "merchant:acct_1:") }
            #expect(balances == ["merchant:acct_1:test:available:USD": -500])
        }
    }

    @Test(arguments: StoreKind.available)
    func aFailedTransactionWritesNothing(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await store.write { tx in
                    try await tx.appendLedgerTransaction(try transaction("ltx_2"))
                    throw Boom()
                }
            }
            let count = try await store.read { tx in
                var n = 0
                try await tx.forEachLedgerTransaction { _ in n += 1 }
                return n
            }
            #expect(count == 0)
        }
    }

    @Test(arguments: StoreKind.available)
    func paymentsRoundTripAndOptimisticConcurrency(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            var payment = Payment(id: "pay_1", merchantID: "acct_1", livemode: false, amount: Money(amountMinor: 1234, currency: .jpy),
                                  captureMethod: .manual, card: CardSummary(token: "tok_1", brand: .visa, last4: "4242", expMonth: 1,
                                                                            expYear: 2030, fingerprint: "fp", country: "US"),
                                  connector: "cardsim", description: "d", metadata: ["a": "1", "b": "2"], createdAtMs: 5)
            try await store.write { try await $0.insertPayment(payment) }
            let stale = payment
            try payment.apply(.authorized(processorReference: "auth_1"), at: 6)
            try await store.write { try await $0.updatePayment(payment, expectedVersion: stale.version) }
            let loaded = try await store.read { try await $0.payment(id: "pay_1", merchantID: "acct_1") }
            #expect(loaded == payment)
            #expect(try await store.read { try await $0.payment(id: "pay_1", merchantID: "acct_other") } == nil)
            await #expect(throws: StoreError.self) {
                try await store.write { try await $0.updatePayment(payment, expectedVersion: stale.version) }
            }
        }
    }

    @Test(arguments: StoreKind.available)
    func paymentLocksExcludeOtherOwnersUntilExpiry(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            func lock(_ owner: String, until: Int64, now: Int64) async throws -> Bool {
                try await store.write { try await $0.acquirePaymentLock(paymentID: "pay_1", owner: owner, untilMs: until, nowMs: now) }
            }
            let first = try await lock("a", until: 100, now: 0)
            let renewed = try await lock("a", until: 200, now: 10)
            let contended = try await lock("b", until: 300, now: 150)
            let afterExpiry = try await lock("b", until: 300, now: 201)
            #expect(first && renewed && !contended && afterExpiry)
        }
    }

    /// Many concurrent writers: a failing writer rolls back alone, and every acknowledged write
    /// is visible to a fresh reader at once (on SQLite they share transactions: group commit).
    @Test(arguments: StoreKind.available)
    func concurrentWritersFailAloneAndAreAcknowledgedOnlyWhenDurable(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            struct Refused: Error {}
            let results = await withTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        do {
                            try await store.write { tx in
                                try await tx.appendLedgerTransaction(try transaction("ltx_\(index)"))
                                if index % 10 == 3 { throw Refused() }
                            }
                            // Acknowledged: a brand-new connection must already see it.
                            let seen = try await store.read { try await $0.ledgerTransactions(resourceID: "pay_1") }
                            return (index, seen.contains { $0.id == "ltx_\(index)" })
                        } catch {
                            return (index, false)
                        }
                    }
                }
                return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            }
            for (index, visible) in results {
                #expect(visible == (index % 10 != 3), "writer \(index)")
            }
            let count = try await store.read { tx in
                var n = 0
                try await tx.forEachLedgerTransaction { _ in n += 1 }
                return n
            }
            #expect(count == 180)
            let statistics = try #require(store as? any GroupCommittingStore).groupCommitStatistics
            #expect(statistics.writes == 200 && statistics.commits < statistics.writes, "no batching: \(statistics)")
            #expect(statistics.bodyNanoseconds > 0 && statistics.commitNanoseconds > 0, "the lanes' busy time is counted: \(statistics)")
            print("\(kind) group commit: \(statistics)")
            let balances = try await store.read { try await $0.accountBalances(keyPrefix: "merchant:acct_1:") }
            #expect(balances["merchant:acct_1:test:available:USD"] == -500 * 180)
        }
    }

    /// Writers that only write (as a payment's claim and finish do), some refused by the
    /// database: on PostgreSQL such a batch travels whole in one statement at its commit
    /// (`payrail_batch_commit`); each refused writer still fails alone and its balance change
    /// is left out, every other writer's rows and balances commit.
    @Test(arguments: StoreKind.available)
    func writeOnlyBatchesCommitAllButTheRefusedWriters(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            try await store.write { try await $0.insertPayment(Self.probePayment("pay_held")) }
            let refused = Set((0..<96).filter { $0 % 5 == 2 })
            let outcomes = await Self.concurrentWriters(96, on: store) { index, tx in
                try await tx.appendLedgerTransaction(try Self.transaction("ltx_w\(index)"))
                try await tx.insertPayment(Self.probePayment(refused.contains(index) ? "pay_held" : "pay_w\(index)"))
            }
            #expect(Set(outcomes.filter { !$0.value }.keys) == refused)
            let written = try await Self.ledgerTransactionIDs(store)
            #expect(written == Set((0..<96).filter { !refused.contains($0) }.map { "ltx_w\($0)" }))
            let merchant = LedgerAccount.merchantAvailable("acct_1", livemode: false, .usd)
            let balances = try await store.read { try await $0.accountBalances(keyPrefix: "merchant:acct_1:") }
            #expect(balances[merchant.key] == -500 * Int64(96 - refused.count))
        }
    }

    /// A $5 manual-capture card payment of acct_1, for writers that insert or update one.
    private static func probePayment(_ id: String) -> Payment {
        Payment(id: id, merchantID: "acct_1", livemode: false, amount: Money(amountMinor: 500, currency: .usd), captureMethod: .manual,
                card: CardSummary(token: "tok_\(id)", brand: .visa, last4: "4242", expMonth: 1, expYear: 2030, fingerprint: "fp", country: "US"),
                connector: "cardsim", description: "", metadata: ["order": id], createdAtMs: 5)
    }

    /// Runs `count` writers at once, writer `index` running `body`; whether each committed
    /// (false: refused with a conflict; any other error is recorded as an issue).
    private static func concurrentWriters(_ count: Int, on store: any PaymentStore,
                                          _ body: @escaping @Sendable (Int, any StoreTransaction) async throws -> Void) async -> [Int: Bool] {
        await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<count {
                group.addTask {
                    do {
                        try await store.write { tx in try await body(index, tx) }
                        return (index, true)
                    } catch StoreError.conflict {
                        return (index, false)
                    } catch {
                        Issue.record("writer \(index): \(error)")
                        return (index, false)
                    }
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
    }

    /// The ids of every stored ledger transaction.
    private static func ledgerTransactionIDs(_ store: any PaymentStore) async throws -> Set<String> {
        try await store.read { tx in
            var ids: Set<String> = []
            try await tx.forEachLedgerTransaction { ids.insert($0.id) }
            return ids
        }
    }

    /// Writers refused by the database itself (a duplicate payment id, a stale version) while
    /// sharing batches with good ones: each refused writer gets its error and leaves nothing
    /// (no rows, no balance change),
    /// every other writer's work commits, and what a writer reads after its own writes sees
    /// them (on PostgreSQL those writes are sent without waiting for their answers).
    @Test(arguments: StoreKind.available)
    func writesRefusedByTheDatabaseFailAloneInSharedBatches(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            try await store.write { try await $0.insertPayment(Self.probePayment("pay_taken")) }
            let outcomes = await Self.concurrentWriters(120, on: store) { index, tx in
                try await tx.appendLedgerTransaction(try Self.transaction("ltx_r\(index)"))
                switch index % 6 {
                case 1: try await tx.insertPayment(Self.probePayment("pay_taken"))  // unique violation in the database
                case 4: try await tx.updatePayment(Self.probePayment("pay_taken"), expectedVersion: 99)  // no such version
                default:
                    try await tx.insertPayment(Self.probePayment("pay_r\(index)"))
                    guard try await tx.payment(id: "pay_r\(index)", merchantID: "acct_1") != nil else {
                        throw StoreError.database("own write not visible")
                    }
                }
            }
            for (index, succeeded) in outcomes {
                #expect(succeeded == ![1, 4].contains(index % 6), "writer \(index)")
            }
            let written = try await Self.ledgerTransactionIDs(store)
            #expect(written == Set((0..<120).filter { ![1, 4].contains($0 % 6) }.map { "ltx_r\($0)" }))
            // A refused writer's postings leave the stored balances too.
            let merchant = LedgerAccount.merchantAvailable("acct_1", livemode: false, .usd)
            let balances = try await store.read { try await $0.accountBalances(keyPrefix: "merchant:acct_1:") }
            #expect(balances[merchant.key] == -500 * Int64(written.count))
            for index in 0..<120 where ![1, 4].contains(index % 6) {
                #expect(try await store.read { try await $0.payment(id: "pay_r\(index)", merchantID: "acct_1") } != nil)
            }
        }
    }

    /// A writer is all or nothing however its statements reach the database: writes held and
    /// sent together, a read after writes, a write it waits for (a lock). One that fails at
    /// its end leaves none of them, and the writers around it in the batch keep theirs.
    @Test(arguments: StoreKind.available)
    func aWriterThatFailsAfterReadingItsOwnWritesLeavesNothing(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            struct Boom: Error {}
            func payment(_ id: String) -> Payment {
                Payment(id: id, merchantID: "acct_1", livemode: false, amount: Money(amountMinor: 500, currency: .usd), captureMethod: .manual,
                        card: CardSummary(token: "tok_\(id)", brand: .visa, last4: "4242", expMonth: 1, expYear: 2030, fingerprint: "fp", country: "US"),
                        connector: "cardsim", description: "", metadata: ["order": id], createdAtMs: 5)
            }
            let failing: Set<Int> = Set((0..<60).filter { $0 % 3 != 0 })
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        do {
                            try await store.write { tx in
                                switch index % 3 {
                                case 1:
                                    // Held write, a read that sees it, a held write, then a failure.
                                    try await tx.insertPayment(payment("pay_w\(index)"))
                                    guard try await tx.payment(id: "pay_w\(index)", merchantID: "acct_1") != nil else {
                                        throw StoreError.database("own write not visible")
                                    }
                                    try await tx.appendLedgerTransaction(try transaction("ltx_w\(index)"))
                                    throw Boom()
                                case 2:
                                    // A write it waits for, then held writes, then a failure.
                                    guard try await tx.acquirePaymentLock(paymentID: "pay_w\(index)", owner: "w\(index)", untilMs: 1_000, nowMs: 0) else {
                                        throw StoreError.database("lock not taken")
                                    }
                                    try await tx.insertPayment(payment("pay_w\(index)"))
                                    throw Boom()
                                default:
                                    try await tx.insertPayment(payment("pay_w\(index)"))
                                    try await tx.appendLedgerTransaction(try transaction("ltx_w\(index)"))
                                }
                            }
                            #expect(!failing.contains(index), "writer \(index) should have failed")
                        } catch is Boom {
                            #expect(failing.contains(index), "writer \(index)")
                        } catch {
                            Issue.record("writer \(index): \(error)")
                        }
                    }
                }
            }
            for index in 0..<60 {
                let stored = try await store.read { try await $0.payment(id: "pay_w\(index)", merchantID: "acct_1") }
                #expect((stored != nil) == !failing.contains(index), "payment of writer \(index)")
            }
            let written = try await store.read { tx in
                var ids: Set<String> = []
                try await tx.forEachLedgerTransaction { ids.insert($0.id) }
                return ids
            }
            #expect(written == Set((0..<60).filter { !failing.contains($0) }.map { "ltx_w\($0)" }))
            // The failed writers' locks are gone: another owner takes them at once.
            for index in failing where index % 3 == 2 {
                let taken = try await store.write { try await $0.acquirePaymentLock(paymentID: "pay_w\(index)", owner: "other", untilMs: 1_000, nowMs: 0) }
                #expect(taken, "lock of writer \(index) left behind")
            }
        }
    }

    /// Writers whose callers are cancelled while they wait in line are still written, and do
    /// not fail the others: a batch runs on a task of its own, not on whichever caller holds
    /// the lane (its cancellation would otherwise roll back everyone else's payments).
    @Test(arguments: StoreKind.available)
    func aCancelledCallerDoesNotReachTheOtherWritersOfItsBatch(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            // One writer holds the lane until the others are queued and all but one cancelled.
            let (release, releaser) = AsyncStream.makeStream(of: Void.self)
            let holder = Task {
                try await store.write { tx in
                    for await _ in release { break }
                    try await tx.appendLedgerTransaction(try transaction("ltx_holder"))
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            let writers = (0..<64).map { index in
                Task {
                    try await store.write { tx in
                        try Task.checkCancellation()
                        try await tx.appendLedgerTransaction(try transaction("ltx_c\(index)"))
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            for writer in writers.dropLast() { writer.cancel() }
            releaser.yield()
            releaser.finish()
            try await holder.value
            for (index, writer) in writers.enumerated() {
                let outcome = await writer.result
                #expect((try? outcome.get()) != nil, "writer \(index) failed: \(outcome)")
            }
            let written = try await store.read { tx in
                var ids: Set<String> = []
                try await tx.forEachLedgerTransaction { ids.insert($0.id) }
                return ids
            }
            #expect(written == Set(["ltx_holder"] + (0..<64).map { "ltx_c\($0)" }))
        }
    }

    /// Two first requests with the same key, racing on different connections: exactly one
    /// claims it; the others see a conflict (and the payment service looks again).
    @Test(arguments: StoreKind.available)
    func idempotencyKeysAreClaimedExactlyOnce(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        let record = IdempotencyRecord(merchantID: "acct_1", key: "k", operation: "create_payment", fingerprint: "f\(index)",
                                                       state: .inProgress, lockedUntilMs: 100, resourceID: "pay_\(index)", response: nil,
                                                       createdAtMs: 1, updatedAtMs: 1)
                        do {
                            try await store.write { try await $0.insertIdempotencyRecord(record) }
                            return true
                        } catch StoreError.conflict {
                            return false
                        } catch {
                            Issue.record("unexpected \(error)")
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            var record = try #require(try await store.read { try await $0.idempotencyRecord(merchantID: "acct_1", key: "k") })
            record.state = .completed
            record.response = [1, 2, 3]
            let finished = record
            try await store.write { try await $0.updateIdempotencyRecord(finished) }
            let stored = try await store.read { try await $0.idempotencyRecord(merchantID: "acct_1", key: "k") }
            #expect(stored == finished)
        }
    }

    /// The fenced update writes only while the record still carries the lease it names: an
    /// owner whose lease was taken over (or finished) gets a conflict and changes nothing.
    @Test(arguments: StoreKind.available)
    func fencedIdempotencyUpdatesRefuseATakenOverLease(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            let claimed = IdempotencyRecord(merchantID: "acct_1", key: "k", operation: "create_payment", fingerprint: "f",
                                            state: .inProgress, lockedUntilMs: 100, resourceID: "pay_1", response: nil,
                                            createdAtMs: 1, updatedAtMs: 1)
            try await store.write { try await $0.insertIdempotencyRecord(claimed) }
            var takenOver = claimed
            takenOver.lockedUntilMs = 200
            takenOver.updatedAtMs = 150
            let successor = takenOver
            try await store.write { try await $0.updateIdempotencyRecord(successor, whileLeasedUntil: 100) }
            var finished = claimed
            finished.state = .completed
            finished.response = [9]
            let late = finished
            // The first owner's lease (100) is gone: its answer must not replace the successor's claim.
            await #expect(throws: StoreError.self) {
                try await store.write { try await $0.updateIdempotencyRecord(late, whileLeasedUntil: 100) }
            }
            #expect(try await store.read { try await $0.idempotencyRecord(merchantID: "acct_1", key: "k") } == successor)
            var done = successor
            done.state = .completed
            done.response = [7]
            let answer = done
            try await store.write { try await $0.updateIdempotencyRecord(answer, whileLeasedUntil: 200) }
            // Completed: no lease can write it again.
            await #expect(throws: StoreError.self) {
                try await store.write { try await $0.updateIdempotencyRecord(answer, whileLeasedUntil: 200) }
            }
            #expect(try await store.read { try await $0.idempotencyRecord(merchantID: "acct_1", key: "k") } == answer)
        }
    }

    /// Several transactions appended at once land in order with their own entries and
    /// balances, and with the writer's rollback, not at all.
    @Test(arguments: StoreKind.available)
    func transactionsAppendedTogetherKeepTheirEntriesAndOrder(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            let a = LedgerAccount.merchantAvailable("acct_1", livemode: false, .usd)
            let b = LedgerAccount.processorReceivable("cardsim", livemode: false, .usd)
            let c = LedgerAccount.merchantAvailable("acct_1", livemode: false, .eur)
            let d = LedgerAccount.processorReceivable("cardsim", livemode: false, .eur)
            let first = try LedgerTransaction(id: "ltx_m1", kind: .authorization, resourceID: "pay_m", entries: [.debit(b, 700), .credit(a, 700)],
                                              createdAtMs: 1)
            let second = try LedgerTransaction(id: "ltx_m2", kind: .capture, resourceID: "pay_m",
                                               entries: [.debit(d, 30), .credit(c, 20), .credit(c, 10)], createdAtMs: 1)
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await store.write { tx in
                    try await tx.appendLedgerTransactions([first, second])
                    throw Boom()
                }
            }
            #expect(try await store.read { try await $0.ledgerTransactions(resourceID: "pay_m") }.isEmpty)
            try await store.write { tx in try await tx.appendLedgerTransactions([first, second]) }
            let stored = try await store.read { try await $0.ledgerTransactions(resourceID: "pay_m") }
            #expect(stored.map(\.id) == ["ltx_m1", "ltx_m2"])
            #expect(stored.map(\.entries.count) == [2, 3])
            #expect(stored.first?.entries.map(\.amountMinor).sorted() == [-700, 700])
            let balances = try await store.read { try await $0.accountBalances(keyPrefix: "merchant:acct_1:") }
            #expect(balances == ["merchant:acct_1:test:available:USD": -700, "merchant:acct_1:test:available:EUR": -30])
        }
    }

    /// FX rates by validity window (latest start wins), locked quotes, a merchant's settlement
    /// currency and a payment's settlement terms all round-trip.
    @Test(arguments: StoreKind.available)
    func fxRatesQuotesAndSettlementTermsRoundTrip(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            let old = try FXRate(from: .eur, to: .usd, rateScaled: 108_000_000, source: "ecb", validFromMs: 0, validUntilMs: 2_000)
            let new = try FXRate(from: .eur, to: .usd, rateScaled: 110_000_000, source: "ecb", validFromMs: 1_000, validUntilMs: 3_000)
            try await store.write { tx in
                try await tx.insertFXRate(old)
                try await tx.insertFXRate(new)
                try await tx.insertMerchant(MerchantRecord(id: "acct_fx", name: "FX", createdAtMs: 1, settlementCurrency: .usd))
                try await tx.insertFXQuote(FXQuote(id: "fxq_1", merchantID: "acct_fx", from: .eur, to: .usd, rateScaled: 108_000_000,
                                                   markupBasisPoints: 100, source: "ecb", createdAtMs: 10, expiresAtMs: 60_010))
            }
            #expect(try await store.read { try await $0.fxRate(from: .eur, to: .usd, atMs: 500) } == old)
            #expect(try await store.read { try await $0.fxRate(from: .eur, to: .usd, atMs: 1_500) } == new)
            #expect(try await store.read { try await $0.fxRate(from: .eur, to: .usd, atMs: 3_000) } == nil)
            #expect(try await store.read { try await $0.fxRate(from: .usd, to: .eur, atMs: 1_500) } == nil)
            #expect(try await store.read { try await $0.merchant(id: "acct_fx") }?.settlementCurrency == .usd)
            #expect(try await store.read { try await $0.fxQuote(id: "fxq_1") }?.rateScaled == 108_000_000)
            let terms = SettlementTerms(currency: .usd, rateScaled: 108_000_000, markupBasisPoints: 100, quoteID: "fxq_1")
            let payment = Payment(id: "pay_fx", merchantID: "acct_fx", livemode: false, amount: Money(amountMinor: 10_000, currency: .eur),
                                  captureMethod: .automatic, card: CardSummary(token: "tok_1", brand: .visa, last4: "4242", expMonth: 1,
                                                                               expYear: 2030, fingerprint: "fp", country: "US"),
                                  connector: "cardsim", description: "", metadata: [:], createdAtMs: 5, settlement: terms)
            try await store.write { try await $0.insertPayment(payment) }
            #expect(try await store.read { try await $0.payment(id: "pay_fx", merchantID: "acct_fx") }?.settlement == terms)
        }
    }

    /// Inside a write, balances include what this writer and the earlier writers of its batch
    /// posted (PostgreSQL applies them to account_balances only when the batch commits).
    @Test(arguments: StoreKind.available)
    func balancesReadInsideAWriteIncludeUncommittedPostings(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { store, _ in
            try await store.write { tx in
                let before = try await tx.accountBalances(keyPrefix: "merchant:acct_1:")["merchant:acct_1:test:available:USD"] ?? 0
                try await tx.appendLedgerTransaction(try transaction("ltx_b0"))
                let after = try await tx.accountBalances(keyPrefix: "merchant:acct_1:")["merchant:acct_1:test:available:USD"] ?? 0
                #expect(before == 0 && after == -500)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1...20 {
                    group.addTask {
                        try await store.write { tx in
                            let before = try await tx.accountBalances(keyPrefix: "merchant:acct_1:")["merchant:acct_1:test:available:USD"] ?? 0
                            try await tx.appendLedgerTransaction(try transaction("ltx_b\(index)"))
                            let after = try await tx.accountBalances(keyPrefix: "merchant:acct_1:")["merchant:acct_1:test:available:USD"] ?? 0
                            // Other batches may commit between the two reads (read committed),
                            // and every posting here credits the account: it can only fall further.
                            #expect(after <= before - 500)
                            #expect(before <= -500)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let balances = try await store.read { try await $0.accountBalances(keyPrefix: "") }
            #expect(balances["merchant:acct_1:test:available:USD"] == -500 * 21)
            #expect(balances.values.reduce(0, +) == 0)
        }
    }

    /// Balance changes that versions before group commit left in PostgreSQL's balance journal
    /// are rolled into account_balances without changing any balance.
    @Test(.enabled(if: StoreKind.available.contains(.postgres)))
    func balanceJournalRollsUpWithoutChangingBalances() async throws {
        try await StoreFixture.with(.postgres) { store, raw in
            let postgres = try #require(store as? PostgresStore)
            try await store.write { try await $0.appendLedgerTransaction(try transaction("ltx_j0")) }
            try await raw("""
                INSERT INTO balance_journal (account, currency, delta_minor, entry_count)
                VALUES ('merchant:acct_1:test:available:USD', 'USD', -500, 1), ('processor:cardsim:receivable:USD', 'USD', 500, 1)
                """)
            let before = try await store.read { try await $0.accountBalances(keyPrefix: "") }
            #expect(before["merchant:acct_1:test:available:USD"] == -1_000)
            #expect(try await postgres.rollUpBalances() == 2)
            #expect(try await postgres.rollUpBalances() == 0)
            let after = try await store.read { try await $0.accountBalances(keyPrefix: "") }
            #expect(after == before)
        }
    }
}
