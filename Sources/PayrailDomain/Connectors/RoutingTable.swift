/// Which processors may handle a payment, in the order to try them: the first route whose
/// conditions all hold wins, and its connectors are tried in turn (the second is the failover
/// for the first). Pure data, read from a routing file by the core (see docs/connectors.md).
public struct RoutingTable: Hashable, Sendable {
    /// One rule. An empty condition set matches anything.
    public struct Route: Hashable, Sendable {
        public var id: String
        /// Payment method kinds (`card`); empty = any.
        public var methods: Set<String>
        /// Presentment currencies; empty = any.
        public var currencies: Set<Currency>
        /// Regions of the edge the payment came through; empty = any.
        public var regions: Set<String>
        /// Card brands; empty = any.
        public var brands: Set<CardBrand>
        /// Connector names, first choice first. Never empty.
        public var connectors: [String]

        public init(id: String, methods: Set<String> = [], currencies: Set<Currency> = [], regions: Set<String> = [],
                    brands: Set<CardBrand> = [], connectors: [String]) {
            precondition(!connectors.isEmpty, "a route needs a connector")
            precondition(Set(connectors).count == connectors.count, "a route lists a connector once")
            self.id = id
            self.methods = methods
            self.currencies = currencies
            self.regions = regions
            self.brands = brands
            self.connectors = connectors
        }

        public func matches(_ payment: RoutingInput) -> Bool {
            (methods.isEmpty || methods.contains(payment.method))
                && (currencies.isEmpty || currencies.contains(payment.currency))
                && (regions.isEmpty || regions.contains(payment.region))
                && (brands.isEmpty || payment.brand.map(brands.contains) == true)
        }
    }

    /// What routing looks at.
    public struct RoutingInput: Hashable, Sendable {
        public var method: String
        public var currency: Currency
        public var region: String
        public var brand: CardBrand?
        public init(method: String, currency: Currency, region: String, brand: CardBrand?) {
            self.method = method
            self.currency = currency
            self.region = region
            self.brand = brand
        }
    }

    public let routes: [Route]

    /// `routes` in priority order; the last should match everything so no payment is left
    /// without a processor (the parser insists on it).
    public init(routes: [Route]) {
        precondition(!routes.isEmpty, "a routing table needs a route")
        self.routes = routes
    }

    /// Every connector any route names, in first-seen order.
    public var connectorNames: [String] {
        var seen = Set<String>()
        return routes.flatMap(\.connectors).filter { seen.insert($0).inserted }
    }

    /// The route for a payment, or nil when none matches (the caller refuses the payment).
    public func route(for payment: RoutingInput) -> Route? {
        routes.first { $0.matches(payment) }
    }

    /// A table that sends everything to one connector: a single-processor deployment.
    public static func single(_ connector: String) -> RoutingTable {
        RoutingTable(routes: [Route(id: "default", connectors: [connector])])
    }
}
