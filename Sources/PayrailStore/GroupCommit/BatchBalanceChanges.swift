import PayrailDomain
import Synchronization

/// The balance changes of one group-commit batch, held until just before its COMMIT so each
/// account's stored balance is written once per batch. A writer's changes join the batch only
/// when its savepoint is released; a writer that rolls back leaves nothing behind.
final class BatchBalanceChanges: Sendable {
    private struct Pending {
        /// Changes of writers whose savepoint was released.
        var batch = BalanceDeltas()
        /// Changes of the writer running now.
        var member = BalanceDeltas()
    }

    private let state = Mutex(Pending())

    /// A writer starts (its savepoint is taken) or rolled back: its changes so far are dropped.
    func resetMember() { state.withLock { $0.member = BalanceDeltas() } }

    /// Records the balance changes of the running writer's entries.
    func record(_ entries: [LedgerEntry]) { state.withLock { $0.member.add(entries) } }

    /// The running writer's savepoint was released: its changes belong to the batch.
    func keepMember() {
        state.withLock { pending in
            pending.batch.merge(pending.member)
            pending.member = BalanceDeltas()
        }
    }

    /// Changes not yet in `account_balances` (the batch's and the running writer's), for reads
    /// inside the batch.
    func pending(keyPrefix: String) -> [String: Int64] {
        state.withLock { pending in
            var all = pending.batch
            all.merge(pending.member)
            return all.amounts(keyPrefix: keyPrefix)
        }
    }

    /// What the batch's COMMIT applies.
    var batch: BalanceDeltas { state.withLock { $0.batch } }
}
