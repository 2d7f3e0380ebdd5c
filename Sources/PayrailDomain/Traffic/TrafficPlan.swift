/// The live split of merchant traffic between regions, as the core's control plane holds it.
///
/// Weights are basis points of all traffic (they always sum to ``totalWeight``); a client picks
/// a region with probability weight / total. A drained region has weight 0 and its edges stop
/// taking new streams. Every change produces a new plan with the next version; the plan is a
/// value, so the rules below are pure and property-tested (Tests/PayrailDomainTests).
public struct TrafficPlan: Hashable, Sendable {
    /// The sum of all weights: 100 % in basis points.
    public static let totalWeight = 10_000

    public struct Region: Hashable, Sendable {
        public let name: String
        /// Basis points of all traffic this region takes now.
        public internal(set) var weight: Int
        /// Its weight when nothing is shifted: what `restore` returns it to.
        public let baseline: Int
        /// Its edges refuse new streams (GOAWAY) and report themselves unhealthy.
        public internal(set) var drained: Bool

        public init(name: String, weight: Int, baseline: Int, drained: Bool) {
            self.name = name
            self.weight = weight
            self.baseline = baseline
            self.drained = drained
        }
    }

    /// Increases by one with every change; edges and clients keep the highest they have seen.
    public internal(set) var version: Int64
    /// In the order the regions were configured.
    public internal(set) var regions: [Region]

    /// Builds a plan and checks its invariants; throws `traffic_change_invalid` if they fail.
    public init(version: Int64, regions: [Region]) throws {
        self.version = version
        self.regions = regions
        if let problem = violation { throw PayrailError(.trafficChangeInvalid, "invalid traffic plan: \(problem)") }
    }

    /// The first plan of a set of regions: traffic split evenly (the first regions take the
    /// remainder basis points), nothing drained.
    public static func initial(regions names: [String], version: Int64 = 1) throws -> TrafficPlan {
        guard !names.isEmpty else { throw PayrailError(.trafficChangeInvalid, "a traffic plan needs at least one region") }
        let share = totalWeight / names.count
        let remainder = totalWeight % names.count
        let regions = names.enumerated().map { index, name in
            let weight = share + (index < remainder ? 1 : 0)
            return Region(name: name, weight: weight, baseline: weight, drained: false)
        }
        return try TrafficPlan(version: version, regions: regions)
    }

    public func region(_ name: String) -> Region? { regions.first { $0.name == name } }

    /// Why this plan is not valid, or nil: names well formed and unique, weights in range and
    /// summing to ``totalWeight`` (baselines too), drained regions at weight 0, one region serving.
    public var violation: String? {
        guard !regions.isEmpty else { return "no regions" }
        var seen = Set<String>()
        for region in regions {
            guard Self.isValidName(region.name) else { return "region name '\(region.name)' is not 1-32 of a-z, 0-9, '-'" }
            guard seen.insert(region.name).inserted else { return "region \(region.name) appears twice" }
            guard (0...Self.totalWeight).contains(region.weight), (0...Self.totalWeight).contains(region.baseline) else {
                return "weight of \(region.name) out of range"
            }
            if region.drained && region.weight != 0 { return "drained region \(region.name) still has weight" }
        }
        guard regions.reduce(0, { $0 + $1.weight }) == Self.totalWeight else { return "weights do not sum to \(Self.totalWeight)" }
        guard regions.reduce(0, { $0 + $1.baseline }) == Self.totalWeight else { return "baselines do not sum to \(Self.totalWeight)" }
        guard regions.contains(where: { !$0.drained }) else { return "every region is drained" }
        return nil
    }

    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 32 && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }

    // MARK: Changes

    /// Moves `percent` of `from`'s current traffic to `to` (rounded down to a basis point; 100
    /// moves all of it). `to` must be serving.
    public func shifting(from: String, to: String, percent: Int) throws -> TrafficPlan {
        guard (1...100).contains(percent) else {
            throw PayrailError(.trafficChangeInvalid, "percent must be between 1 and 100", field: "percent")
        }
        guard from != to else { throw PayrailError(.trafficChangeInvalid, "cannot shift a region's traffic to itself", field: "to") }
        let source = try index(of: from, field: "from")
        let target = try index(of: to, field: "to")
        guard !regions[target].drained else {
            throw PayrailError(.trafficRegionDrained, "region \(to) is drained; restore it before sending it traffic", field: "to")
        }
        var next = self
        let moved = regions[source].weight * percent / 100
        next.regions[source].weight -= moved
        next.regions[target].weight += moved
        return next.advanced()
    }

    /// Stops sending traffic to `name`: its weight goes to the serving regions in proportion to
    /// their weights, and its edges drain. Draining the last serving region is refused.
    public func draining(_ name: String) throws -> TrafficPlan {
        let drained = try index(of: name, field: "region")
        var next = self
        if regions[drained].drained { return next.advanced() }
        let receivers = regions.indices.filter { $0 != drained && !regions[$0].drained }
        guard !receivers.isEmpty else {
            throw PayrailError(.trafficNoServingRegion, "region \(name) is the last one serving; draining it would stop all traffic",
                               field: "region")
        }
        // By current weight; if those are all 0, by baseline; if those too, evenly.
        var shares = receivers.map { regions[$0].weight }
        if shares.allSatisfy({ $0 == 0 }) { shares = receivers.map { regions[$0].baseline } }
        if shares.allSatisfy({ $0 == 0 }) { shares = receivers.map { _ in 1 } }
        let portions = Self.apportion(regions[drained].weight, by: shares)
        for (receiver, portion) in zip(receivers, portions) { next.regions[receiver].weight += portion }
        next.regions[drained].weight = 0
        next.regions[drained].drained = true
        return next.advanced()
    }

    /// Puts `name` back in service at its baseline weight, taking the difference from the
    /// regions above their baselines (in proportion to their excess). Without a name, every
    /// region returns to its baseline.
    public func restoring(_ name: String?) throws -> TrafficPlan {
        var next = self
        guard let name else {
            for index in next.regions.indices {
                next.regions[index].weight = next.regions[index].baseline
                next.regions[index].drained = false
            }
            return next.advanced()
        }
        let restored = try index(of: name, field: "region")
        next.regions[restored].drained = false
        let deficit = regions[restored].baseline - regions[restored].weight
        if deficit > 0 {
            // Weights and baselines have equal sums, so the others' excess covers the deficit.
            let donors = regions.indices.filter { $0 != restored && regions[$0].weight > regions[$0].baseline }
            let excess = donors.map { regions[$0].weight - regions[$0].baseline }
            let portions = Self.apportion(deficit, by: excess)
            for (donor, portion) in zip(donors, portions) {
                assert(portion <= regions[donor].weight - regions[donor].baseline, "restore takes only a donor's excess")
                next.regions[donor].weight -= portion
            }
            next.regions[restored].weight += deficit
        }
        return next.advanced()
    }

    private func index(of name: String, field: String) throws -> Int {
        guard let index = regions.firstIndex(where: { $0.name == name }) else {
            throw PayrailError(.trafficRegionUnknown, "no region named \(name); known: \(regions.map(\.name).joined(separator: ", "))",
                               field: field)
        }
        return index
    }

    private func advanced() -> TrafficPlan {
        var next = self
        next.version += 1
        precondition(next.violation == nil, "traffic change broke the plan: \(next.violation ?? "")")
        return next
    }

    /// Splits `amount` in proportion to `shares` (largest remainder, ties to the earlier share);
    /// the parts sum to `amount` exactly.
    static func apportion(_ amount: Int, by shares: [Int]) -> [Int] {
        let total = shares.reduce(0, +)
        guard total > 0 else { return shares.map { _ in 0 } }
        var parts = shares.map { amount * $0 / total }
        var left = amount - parts.reduce(0, +)
        let order = shares.indices.sorted { (amount * shares[$0]) % total > (amount * shares[$1]) % total }
        for index in order where left > 0 {
            parts[index] += 1
            left -= 1
        }
        assert(parts.reduce(0, +) == amount, "apportioning keeps the total")
        return parts
    }

    // MARK: Choosing

    /// The region a client should send its next call to, for a uniform `roll` in
    /// 0..<``totalWeight``; skips `avoiding` (regions that just failed) when another region
    /// has weight. Nil only if every region with weight is avoided.
    public func pick(roll: Int, avoiding: Set<String> = []) -> Region? {
        let candidates = regions.filter { $0.weight > 0 && !avoiding.contains($0.name) }
        let total = candidates.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return nil }
        var point = roll % total
        for region in candidates {
            if point < region.weight { return region }
            point -= region.weight
        }
        return candidates.last
    }
}
