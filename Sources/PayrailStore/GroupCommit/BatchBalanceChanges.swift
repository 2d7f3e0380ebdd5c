import PayrailDomain
import Synchronization

/// The balance changes of one group-commit batch, held until just before its COMMIT so each
/// account's stored balance is written once per batch. A writer's changes join the batch only
/// once its writes are known to have applied; a writer that rolls back leaves nothing behind.
final class BatchBalanceChanges: Sendable {
    private struct Pending {
        /// Changes of writers whose writes applied.
        var batch = BalanceDeltas()
        /// Changes of writers that ended but whose writes are still on their way, by writer.
        var ended: [Int: BalanceDeltas] = [:]
        /// Changes of the writer running now.
        var member = BalanceDeltas()
    }

    private let state = Mutex(Pending())

    /// A writer starts (its savepoint is taken) or rolled back: its changes so far are dropped.
    func resetMember() { state.withLock { $0.member = BalanceDeltas() } }

    /// Records the balance changes of the running writer's entries.
    func record(_ entries: [LedgerEntry]) { state.withLock { $0.member.add(entries) } }

    /// The running writer's writes applied (its savepoint was released): its changes belong
    /// to the batch.
    func keepMember() {
        state.withLock { pending in
            pending.batch.merge(pending.member)
            pending.member = BalanceDeltas()
        }
    }

    /// The running writer ended with writes not sent yet: its changes wait for their outcome
    /// (``settle(failed:)``).
    func holdMember(as writer: Int) {
        state.withLock { pending in
            if !pending.member.isEmpty { pending.ended[writer] = pending.member }
            pending.member = BalanceDeltas()
        }
    }

    /// The held writers' writes were sent: the changes of those that applied join the batch,
    /// those of `failed` are dropped.
    func settle(failed: Set<Int>) {
        state.withLock { pending in
            for (writer, deltas) in pending.ended where !failed.contains(writer) { pending.batch.merge(deltas) }
            pending.ended = [:]
        }
    }

    /// Changes not yet in `account_balances` (the batch's, the held writers' and the running
    /// writer's), for reads inside the batch.
    func pending(keyPrefix: String) -> [String: Int64] {
        state.withLock { pending in
            var all = pending.batch
            for deltas in pending.ended.values { all.merge(deltas) }
            all.merge(pending.member)
            return all.amounts(keyPrefix: keyPrefix)
        }
    }

    /// For a batch sent whole in one statement, which applies the held writers' changes only
    /// if their writes apply: the settled changes, and each held writer's.
    var unsettled: (settled: BalanceDeltas, held: [Int: BalanceDeltas]) {
        state.withLock { pending in
            precondition(pending.member.isEmpty, "every writer of the batch has ended")
            return (pending.batch, pending.ended)
        }
    }

    /// What the batch's COMMIT applies.
    var batch: BalanceDeltas {
        state.withLock { pending in
            precondition(pending.ended.isEmpty, "held writers are settled before the batch commits")
            return pending.batch
        }
    }
}
