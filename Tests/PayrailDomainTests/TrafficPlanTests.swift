import PayrailDomain
import PropertyBased
import Testing

/// The traffic plan's rules: weights always sum to 100 %, drained regions carry nothing, one
/// region always serves, every change advances the version, and restore undoes shifts.
@Suite struct TrafficPlanTests {
    private let regions = ["us-east", "eu-west", "ap-south"]

    @Test func initialSplitIsEvenAndExact() throws {
        let plan = try TrafficPlan.initial(regions: regions)
        #expect(plan.regions.map(\.weight) == [3334, 3333, 3333])
        #expect(plan.version == 1)
        #expect(plan.violation == nil)
    }

    @Test func shiftAllOfARegionThenDrainThenRestore() throws {
        let plan = try TrafficPlan.initial(regions: regions)
        let shifted = try plan.shifting(from: "eu-west", to: "us-east", percent: 100)
        #expect(shifted.regions.map(\.weight) == [6667, 0, 3333])
        #expect(shifted.version == 2)
        let drained = try shifted.draining("eu-west")
        #expect(drained.region("eu-west")?.drained == true)
        #expect(drained.regions.map(\.weight) == [6667, 0, 3333])
        let restored = try drained.restoring("eu-west")
        #expect(restored.regions.map(\.weight) == [3334, 3333, 3333], "eu-west takes back exactly what us-east had in excess")
        #expect(restored.region("eu-west")?.drained == false)
        #expect(restored.version == 4)
    }

    @Test func drainingSpreadsTheRegionsTrafficByWeight() throws {
        let plan = try TrafficPlan.initial(regions: regions).shifting(from: "ap-south", to: "us-east", percent: 50)
        // us-east 5000, eu-west 3333, ap-south 1667 -> eu-west's 3333 split 5000:1667 (2499.6, 833.4; the larger remainder rounds up).
        let drained = try plan.draining("eu-west")
        #expect(drained.regions.map(\.weight) == [5000 + 2500, 0, 1667 + 833])
    }

    @Test func refusals() throws {
        let plan = try TrafficPlan.initial(regions: regions)
        #expect(throws: PayrailError.self) { try plan.shifting(from: "eu-west", to: "mars", percent: 10) }
        #expect(throws: PayrailError.self) { try plan.shifting(from: "eu-west", to: "eu-west", percent: 10) }
        #expect(throws: PayrailError.self) { try plan.shifting(from: "eu-west", to: "us-east", percent: 0) }
        #expect(throws: PayrailError.self) { try plan.shifting(from: "eu-west", to: "us-east", percent: 101) }
        let twoDrained = try plan.draining("eu-west").draining("ap-south")
        do {
            _ = try twoDrained.draining("us-east")
            Issue.record("drained the last serving region")
        } catch let error as PayrailError {
            #expect(error.code == .trafficNoServingRegion)
        }
        do {
            _ = try twoDrained.shifting(from: "us-east", to: "eu-west", percent: 10)
            Issue.record("shifted traffic into a drained region")
        } catch let error as PayrailError {
            #expect(error.code == .trafficRegionDrained)
        }
        #expect(throws: PayrailError.self) {
            try TrafficChange.make(.drain(region: "eu-west"), on: plan, actor: "", reason: "why", atMs: 0)
        }
        #expect(throws: PayrailError.self) {
            try TrafficChange.make(.drain(region: "eu-west"), on: plan, actor: "alice", reason: "", atMs: 0)
        }
    }

    @Test func storedFormRoundTrips() throws {
        let plan = try TrafficPlan.initial(regions: regions).shifting(from: "eu-west", to: "ap-south", percent: 30).draining("us-east")
        #expect(TrafficPlan(version: plan.version, encoded: plan.encoded) == plan)
        #expect(TrafficPlan(version: 1, encoded: "us-east=5000/5000/0") == nil, "weights must sum to 100 %")
        #expect(TrafficPlan(version: 1, encoded: "us-east=10000/10000/1") == nil, "a drained region with weight")
        for action: TrafficChange.Action in [.shift(from: "a", to: "b", percent: 7), .drain(region: "a"), .restore(region: nil),
                                             .restore(region: "b"), .initialize(regions: ["a", "b"])] {
            let stored = action.stored
            #expect(TrafficChange.Action(kind: stored.kind, arguments: stored.arguments) == action)
        }
    }

    /// Any sequence of shifts, drains and restores keeps the invariants; refused changes leave
    /// the plan as it was; restoring everything returns to the baseline.
    @Test func randomChangesKeepTheInvariants() async {
        let regionCount = Gen.int(in: 1...5)
        // One step = kind (4) x region a (5) x region b (5) x percent (100), packed in one integer.
        let step = Gen.int(in: 0...(4 * 5 * 5 * 100 - 1))
        await propertyCheck(count: 300, input: regionCount, step.array(of: 0...40)) { count, steps in
            let names = (0..<count).map { "r\($0)" }
            guard var plan = try? TrafficPlan.initial(regions: names) else { Issue.record("initial"); return }
            for packed in steps {
                let (kind, a, b, percent) = (packed / 2500, (packed / 500) % 5, (packed / 100) % 5, packed % 100 + 1)
                let from = names[a % count], to = names[b % count]
                let next: TrafficPlan?
                switch kind {
                case 0: next = try? plan.shifting(from: from, to: to, percent: percent)
                case 1: next = try? plan.draining(from)
                case 2: next = try? plan.restoring(from)
                default: next = try? plan.restoring(nil)
                }
                guard let next else { continue }
                #expect(next.violation == nil, "\(next.violation ?? "")")
                #expect(next.version == plan.version + 1)
                #expect(next.regions.filter(\.drained).allSatisfy { $0.weight == 0 })
                #expect(next.regions.reduce(0) { $0 + $1.weight } == TrafficPlan.totalWeight)
                if kind == 2, let restored = next.region(from) {
                    #expect(!restored.drained && restored.weight >= restored.baseline)
                }
                plan = next
            }
            if let reset = try? plan.restoring(nil) {
                #expect(reset.regions.allSatisfy { $0.weight == $0.baseline && !$0.drained })
            }
            // A region picked by weight always has weight, for every roll.
            for roll in stride(from: 0, to: TrafficPlan.totalWeight, by: 97) {
                if let region = plan.pick(roll: roll) { #expect(region.weight > 0) } else { Issue.record("no region picked") }
            }
        }
    }
}
