#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time in Unix milliseconds: the one place production code reads the clock.
/// Everything else takes a `now` closure, so tests and simulations can drive time.
public enum UnixClock {
    @Sendable public static func nowMs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
