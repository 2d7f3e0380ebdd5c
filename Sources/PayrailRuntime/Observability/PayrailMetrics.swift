import Metrics
import Prometheus
import Synchronization

/// The process's metrics: swift-metrics reports into one Prometheus registry, which
/// ``MetricsServer`` serves. Call ``bootstrap()`` before creating the components that record
/// metrics (their counters are bound at creation).
public enum PayrailMetrics {
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    /// Routes swift-metrics into ``registry``; later calls do nothing (the metrics system can be
    /// bootstrapped once per process).
    public static func bootstrap() {
        bootstrapped.withLock { done in
            guard !done else { return }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            done = true
        }
    }
}
