import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A task executor with one thread of its own, for a group-commit lane whose batches run
/// synchronous database calls (SQLite's statements and its COMMIT with the fsync).
///
/// Why a thread of its own: the lane is the store's serial section. On the shared cooperative
/// pool, each step of a batch (starting it, going on after the commit) waits in line behind
/// every other request's jobs while the lane idles, and the commit, which blocks in the fsync,
/// had to hop to a thread pool and back. A dedicated thread is woken by the kernel, and it may
/// block in the fsync without taking a thread from the pool.
///
/// Jobs run one at a time, in the order they were enqueued. Once the executor is released
/// (its store gone; a task preferring it holds it), its thread ends.
final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let queue: JobQueue

    /// `name`: the thread's name as `top -H` and `perf` show it (Linux keeps 15 bytes).
    init(name: String) {
        precondition(name.utf8.count <= 15, "Linux refuses thread names over 15 bytes")
        queue = JobQueue()
        // Unowned: the thread must not keep its executor alive, or it would never end.
        queue.setOwner(asUnownedTaskExecutor())
        let queue = queue
        let thread = Thread {
            Self.nameCurrentThread(name)
            queue.run()
        }
        thread.start()
    }

    deinit { queue.stop() }

    /// Names the calling thread for the kernel. (Foundation's `Thread.name` reaches the system
    /// thread only if the thread has learnt its own handle, a race at start-up.)
    private static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        queue.push(UnownedJob(job))
    }

    /// The jobs, and the thread's loop that runs them; shared by the thread and the executor, so
    /// the executor can go away (stopping the thread) while the thread still runs.
    private final class JobQueue: @unchecked Sendable {
        private struct State {
            var jobs: [UnownedJob] = []
            var sleeping = false
            var stopped = false
            /// The executor the thread's jobs run on (set before any job can arrive).
            var owner: UnownedTaskExecutor?
        }

        private let state = Mutex(State())
        private let wake = DispatchSemaphore(value: 0)

        func setOwner(_ owner: UnownedTaskExecutor) {
            state.withLock { $0.owner = owner }
        }

        func push(_ job: UnownedJob) {
            let wakeUp = state.withLock { state -> Bool in
                precondition(!state.stopped, "a job for an executor that is gone")
                state.jobs.append(job)
                let wakeUp = state.sleeping
                state.sleeping = false
                return wakeUp
            }
            if wakeUp { wake.signal() }
        }

        func stop() {
            let wakeUp = state.withLock { state -> Bool in
                state.stopped = true
                let wakeUp = state.sleeping
                state.sleeping = false
                return wakeUp
            }
            if wakeUp { wake.signal() }
        }

        /// The thread's loop: runs every job pushed, in order, until stopped with none left. A
        /// job can only arrive from a task that holds the executor (its preference retains it),
        /// so none arrives once the executor is gone and the queue stopped.
        func run() {
            var running: [UnownedJob] = []
            while true {
                let (stopped, owner) = state.withLock { state -> (Bool, UnownedTaskExecutor?) in
                    swap(&running, &state.jobs)
                    if running.isEmpty && !state.stopped { state.sleeping = true }
                    return (state.stopped, state.owner)
                }
                if running.isEmpty {
                    if stopped { return }
                    wake.wait()
                    continue
                }
                guard let owner else { preconditionFailure("a job arrived before its executor was made") }
                for job in running { job.runSynchronously(on: owner) }
                running.removeAll(keepingCapacity: true)
            }
        }
    }
}
