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
    private let logger: Logger
    private let queue = Mutex<[Pending]>([])
    private let (signal, signaller) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let runner = Mutex<Task<Void, Never>?>(nil)
    private let batches = Atomic<Int>(0)

    /// - Parameters:
    ///   - batchMax: most postings per database transaction (bounds statement size and latency).
    ///   - window: how long a batch waits for more postings once the first arrives (zero: batches
    ///     form only from what queued during the previous commit).
    public init(store: PostgresStore, batchMax: Int = 512, window: Duration = .zero, logger: Logger = Logger(label: "payrail.ledger.poster")) {
        precondition(batchMax >= 1, "batchMax")
        self.client = store.client
        self.batchMax = batchMax
        self.window = window
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
            while true {
                let batch = queue.withLock { queue -> [Pending] in
                    let taken = Array(queue.prefix(batchMax))
                    queue.removeFirst(taken.count)
                    return taken
                }
                if batch.isEmpty { break }
                await commit(batch)
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

    private func write(_ transactions: [LedgerTransaction]) async throws {
        var transactionBinds = PostgresBindings(capacity: transactions.count * 5)
        var transactionRows: [String] = []
        var entryBinds = PostgresBindings()
        var entryRows: [String] = []
        for transaction in transactions {
            let base = transactionRows.count * 5
            transactionRows.append("($\(base + 1), $\(base + 2), $\(base + 3), $\(base + 4), $\(base + 5))")
            transactionBinds.append(transaction.id)
            transactionBinds.append(transaction.kind.rawValue)
            transactionBinds.append(transaction.resourceID)
            transactionBinds.append(transaction.refundID)
            transactionBinds.append(transaction.createdAtMs)
            for entry in transaction.entries {
                let entryBase = entryRows.count * 4
                entryRows.append("($\(entryBase + 1), $\(entryBase + 2), $\(entryBase + 3), $\(entryBase + 4))")
                entryBinds.append(transaction.id)
                entryBinds.append(entry.account.key)
                entryBinds.append(entry.account.currency.code)
                entryBinds.append(entry.amountMinor)
            }
        }
        let transactionInsert = PostgresQuery(
            unsafeSQL: "INSERT INTO ledger_transactions (id, kind, resource_id, refund_id, created_at_ms) VALUES "
                + transactionRows.joined(separator: ", "), binds: transactionBinds)
        let entryInsert = PostgresQuery(
            unsafeSQL: "INSERT INTO ledger_entries (transaction_id, account, currency, amount_minor) VALUES "
                + entryRows.joined(separator: ", "), binds: entryBinds)
        let balances = PostgresTransaction.balanceUpsert(BalanceDeltas(transactions.lazy.flatMap(\.entries)))
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(transactionInsert, logger: logger)
            try await connection.query(entryInsert, logger: logger)
            try await connection.query(balances, logger: logger)
        }
    }
}
