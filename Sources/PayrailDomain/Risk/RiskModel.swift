#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A logistic-regression fraud model: features are fixed transforms of signals, standardized
/// with the training set's means and scales, weighted, summed and squashed to a score in 0...1.
/// Trained by `scripts/fraud/train.py`; the coefficients are generated into
/// `RiskModel+Trained.swift`. Scores are probabilities, not money: Double is right here.
public struct RiskModel: Sendable, Equatable {
    public let version: String
    public let bias: Double
    public let weights: [Double]
    public let means: [Double]
    public let scales: [Double]

    public init(version: String, bias: Double, weights: [Double], means: [Double], scales: [Double]) {
        precondition(weights.count == Self.featureCount && means.count == Self.featureCount && scales.count == Self.featureCount,
                     "a model has one weight, mean and scale per feature")
        precondition(scales.allSatisfy { $0 > 0 }, "feature scales are positive")
        self.version = version
        self.bias = bias
        self.weights = weights
        self.means = means
        self.scales = scales
    }

    /// Feature names, in order; the training script uses the same list.
    /// Card velocity is left to rules: test cards are shared by every integration.
    public static let featureNames = [
        "log_amount", "log_amount_ratio",
        "log_ip_count_1h", "log_ip_distinct_cards_1h", "log_ip_declines_1h", "log_device_distinct_cards_24h",
        "log_email_distinct_cards_24h", "ip_country_mismatch", "billing_country_mismatch", "first_seen_card",
    ]
    public static var featureCount: Int { featureNames.count }

    /// The model's inputs for these signals (before standardization).
    public static func features(_ signals: RiskSignals) -> [Double] {
        var features = [Double](repeating: 0, count: featureCount)
        features[0] = log1p(signals[.amountMinor])
        features[1] = log(max(signals[.amountRatio], 1e-3))
        features[2] = log1p(signals[.ipCount1h])
        features[3] = log1p(signals[.ipDistinctCards1h])
        features[4] = log1p(signals[.ipDeclines1h])
        features[5] = log1p(signals[.deviceDistinctCards24h])
        features[6] = log1p(signals[.emailDistinctCards24h])
        features[7] = signals[.ipCountryMismatch]
        features[8] = signals[.billingCountryMismatch]
        features[9] = signals[.firstSeenCard]
        return features
    }

    /// Probability of fraud for raw features (as ``features(_:)`` makes them).
    public func score(features: [Double]) -> Double {
        var z = bias
        for index in 0..<Self.featureCount {
            z += weights[index] * (features[index] - means[index]) / scales[index]
        }
        return 1 / (1 + exp(-z))
    }

    public func score(_ signals: RiskSignals) -> Double { score(features: Self.features(signals)) }
}
