import Logging
import PayrailDomain
import PostgresNIO
import Synchronization

/// Group commit for ledger postings on PostgreSQL. Concurrent `post` calls are collected (up to
/// `batchMax`, optionally waiting `window` for more) and written in ONE database transaction:
/// one multi-row insert of transactions, one of entries, and one balance update per account per
/// batch, in account order. A hot account credited by every payment is updated once per batch,
/// not once per payment. Callers are answered only after their batch has committed. A posting
/// that the database refuses (a duplicate id, say) fails alone: a failed batch is split in
/// halves and retried until the culprit is isolated.
public final class PostgresLedgerPoster: Sendable {
    private struct Pending {
        let transaction: LedgerTransaction
        let continuation: CheckedContinuation<Void, any Error>
    }

    private let client: PostgresClient
    private let batchMax: Int
    private let window: Duration
    private let committers: Int
    private let logger: Logger
    private let queue = Mutex<[Pending]>([])
    private let (signal, signaller) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let runner = Mutex<Task<Void, Never>?>(nil)
    private let batches = Atomic<Int>(0)

    /// - Parameters:
    ///   - batchMax: most postings per database transaction (bounds statement size and latency).
    ///   - window: how long a batch waits for more postings once the first arrives (zero: batches
    ///     form only from what queued during the previous commit).
    ///   - committers: batches in flight at once (each on its own connection), so one batch's
    ///     commit latency overlaps the next batch's work.
    public init(store: PostgresStore, batchMax: Int = 512, window: Duration = .zero, committers: Int = 2,
                logger: Logger = Logger(label: "payrail.ledger.poster")) {
        precondition(batchMax >= 1 && committers >= 1, "batchMax and committers")
        self.client = store.client
        self.batchMax = batchMax
        self.window = window
        self.committers = committers
        self.logger = logger
        let task = Task { [weak self] in
            guard let self else { return }
            await self.runLoop()
        }
        runner.withLock { $0 = task }
    }

    deinit { runner.withLock { $0?.cancel() } }

    /// Batches committed so far (postings / batches is the group-commit factor).
    public var batchesCommitted: Int { batches.load(ordering: .relaxed) }

    /// Appends `transaction` to the ledger; returns once it is durable.
    public func post(_ transaction: LedgerTransaction) async throws {
        try LedgerTransaction.checkBalanced(transaction.entries)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.withLock { $0.append(Pending(transaction: transaction, continuation: continuation)) }
            signaller.yield()
        }
    }

    /// The baseline group commit is measured against: this one posting in a database
    /// transaction of its own, with its balance updates. For benchmarks.
    public func postUnbatched(_ transaction: LedgerTransaction) async throws {
        try LedgerTransaction.checkBalanced(transaction.entries)
        do {
            try await write([transaction])
        } catch {
            throw PostgresTransaction.translate(error)
        }
    }

    /// Stops taking new work after the queue drains.
    public func shutdown() async {
        signaller.finish()
        let task = runner.withLock { $0 }
        await task?.value
    }

    private func runLoop() async {
        for await _ in signal {
            if window > .zero { try? await Task.sleep(for: window) }
            // Drain the queue with `committers` batches in flight; what arrives meanwhile joins
            // the next batch.
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<committers {
                    group.addTask {
                        while true {
                            let batch = self.queue.withLock { queue -> [Pending] in
                                let taken = Array(queue.prefix(self.batchMax))
                                queue.removeFirst(taken.count)
                                return taken
                            }
                            if batch.isEmpty { return }
                            await self.commit(batch)
                        }
                    }
                }
            }
        }
    }

    private func commit(_ batch: [Pending]) async {
        do {
            try await write(batch.map(\.transaction))
            batches.add(1, ordering: .relaxed)
            for pending in batch { pending.continuation.resume() }
        } catch {
            guard batch.count > 1 else {
                batch[0].continuation.resume(throwing: PostgresTransaction.translate(error))
                return
            }
            // Isolate the posting(s) the database refused; the rest still commit.
            let middle = batch.count / 2
            await commit(Array(batch[..<middle]))
            await commit(Array(batch[middle...]))
        }
    }

    /// The whole batch as ONE statement (data-modifying CTEs over `unnest` of column arrays),
    /// committed on its own: one round trip and one commit per batch, however many postings it
    /// holds, and the same 13-parameter statement text every time (no per-batch SQL to build,
    /// parse or plan). Balance rows are upserted in account key order.
    private func write(_ transactions: [LedgerTransaction]) async throws {
        var ids: [String] = [], kinds: [String] = [], resources: [String] = [], refunds: [String] = [], created: [Int64] = []
        var entryTransactions: [String] = [], entryAccounts: [String] = [], entryCurrencies: [String] = [], entryAmounts: [Int64] = []
        ids.reserveCapacity(transactions.count)
        for transaction in transactions {
            ids.append(transaction.id)
            kinds.append(transaction.kind.rawValue)
            resources.append(transaction.resourceID)
            refunds.append(transaction.refundID ?? "")
            created.append(transaction.createdAtMs)
            for entry in transaction.entries {
                entryTransactions.append(transaction.id)
                entryAccounts.append(entry.account.key)
                entryCurrencies.append(entry.account.currency.code)
                entryAmounts.append(entry.amountMinor)
            }
        }
        var binds = PostgresBindings(capacity: 13)
        binds.append(ids)
        binds.append(kinds)
        binds.append(resources)
        binds.append(refunds)
        binds.append(created)
        binds.append(entryTransactions)
        binds.append(entryAccounts)
        binds.append(entryCurrencies)
        binds.append(entryAmounts)
        PostgresTransaction.bindBalanceColumns(BalanceDeltas(transactions.lazy.flatMap(\.entries)), into: &binds)
        try await client.query(PostgresQuery(unsafeSQL: Self.batchStatement, binds: binds), logger: logger).collect()
    }

    private static let batchStatement = #"""
        WITH t AS (
            INSERT INTO ledger_transactions (id, kind, resource_id, refund_id, created_at_ms)
            SELECT id, kind, resource_id, NULLIF(refund_id, ''), created_at_ms
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) AS x (id, kind, resource_id, refund_id, created_at_ms)
            RETURNING 1
        ), e AS (
            INSERT INTO ledger_entries (transaction_id, account, currency, amount_minor)
            SELECT * FROM unnest($6::text[], $7::text[], $8::text[], $9::int8[])
            RETURNING 1
        ), b AS (
        \#(PostgresTransaction.balanceUpsertSQL(firstParameter: 10))
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM e), (SELECT count(*) FROM b)
        """#
}
