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

    /// The whole batch as ONE statement (data-modifying CTEs), committed on its own: one round
    /// trip and one commit per batch, however many postings it holds.
    private func write(_ transactions: [LedgerTransaction]) async throws {
        var binds = PostgresBindings()
        var next = 0
        func placeholders(_ count: Int) -> String {
            defer { next += count }
            return "(" + (1...count).map { "$\(next + $0)" }.joined(separator: ", ") + ")"
        }
        var transactionRows: [String] = []
        var entryRows: [String] = []
        for transaction in transactions {
            transactionRows.append(placeholders(5))
            binds.append(transaction.id)
            binds.append(transaction.kind.rawValue)
            binds.append(transaction.resourceID)
            binds.append(transaction.refundID)
            binds.append(transaction.createdAtMs)
        }
        for transaction in transactions {
            for entry in transaction.entries {
                entryRows.append(placeholders(4))
                binds.append(transaction.id)
                binds.append(entry.account.key)
                binds.append(entry.account.currency.code)
                binds.append(entry.amountMinor)
            }
        }
        var balanceRows: [String] = []
        for delta in BalanceDeltas(transactions.lazy.flatMap(\.entries)).sorted {
            balanceRows.append(placeholders(4))
            binds.append(delta.account)
            binds.append(delta.currency)
            binds.append(delta.amountMinor)
            binds.append(Int64(delta.entryCount))
        }
        let statement = PostgresQuery(unsafeSQL: """
            WITH t AS (
                INSERT INTO ledger_transactions (id, kind, resource_id, refund_id, created_at_ms) VALUES \(transactionRows.joined(separator: ", "))
                RETURNING 1
            ), e AS (
                INSERT INTO ledger_entries (transaction_id, account, currency, amount_minor) VALUES \(entryRows.joined(separator: ", "))
                RETURNING 1
            ), b AS (
                INSERT INTO account_balances (account, currency, balance_minor, entry_count) VALUES \(balanceRows.joined(separator: ", "))
                ON CONFLICT (account) DO UPDATE SET balance_minor = account_balances.balance_minor + excluded.balance_minor,
                                                    entry_count = account_balances.entry_count + excluded.entry_count
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM e), (SELECT count(*) FROM b)
            """, binds: binds)
        try await client.query(statement, logger: logger).collect()
    }
}
