extension Duration {
    /// The duration in whole nanoseconds (truncated), for counters and histograms that keep
    /// integers rather than `Duration`s.
    public var wholeNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// The duration in whole microseconds (truncated).
    public var wholeMicroseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }
}
