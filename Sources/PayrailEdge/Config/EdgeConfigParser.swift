import Foundation
import PayrailDomain
import Yams

/// Reads and validates an edge configuration file. Refuses unknown keys (a typo must not
/// silently fall back to a default), wrong types, out-of-range values, duplicate names and
/// addresses, and references to tiers that do not exist, each with the file, line and reason.
public enum EdgeConfigParser {
    public static func load(path: String) throws -> EdgeConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw EdgeConfigError(file: path, line: 0, column: 0, reason: "cannot read the file as UTF-8")
        }
        let folder = (path as NSString).deletingLastPathComponent
        return try parse(text, file: path, baseDirectory: folder.isEmpty ? "." : folder)
    }

    public static func parse(_ text: String, file: String, baseDirectory: String = ".") throws -> EdgeConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw EdgeConfigError(file: file, line: 1, column: 1, reason: "the file is empty") }
            root = node
        } catch let error as EdgeConfigError {
            throw error
        } catch let error as YamlError {
            throw EdgeConfigError(file: file, line: Self.line(of: error), column: 0, reason: "not valid YAML: \(Self.problem(of: error))")
        }
        return try Reader(file: file, base: baseDirectory).config(root)
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: 0
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        default: "\(error)"
        }
    }

    private struct Reader {
        let file: String
        let base: String

        func fail(_ node: Node?, _ reason: String) -> EdgeConfigError {
            EdgeConfigError(file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, reason: reason)
        }

        /// The mapping's entries, refusing keys not in `allowed` and missing `required` ones.
        func mapping(_ node: Node, _ what: String, allowed: Set<String>, required: Set<String>) throws -> [String: Node] {
            guard case .mapping(let mapping) = node else { throw fail(node, "\(what) must be a mapping") }
            var entries: [String: Node] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw fail(key, "\(what): keys must be strings") }
                guard allowed.contains(name) else {
                    throw fail(key, "\(what): unknown key \"\(name)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
                }
                entries[name] = value
            }
            for name in required.sorted() where entries[name] == nil { throw fail(node, "\(what): missing key \"\(name)\"") }
            return entries
        }

        func sequence(_ node: Node, _ what: String) throws -> [Node] {
            guard case .sequence(let sequence) = node else { throw fail(node, "\(what) must be a list") }
            return Array(sequence)
        }

        func string(_ node: Node, _ what: String) throws -> String {
            guard case .scalar(let scalar) = node, !scalar.string.isEmpty else { throw fail(node, "\(what) must be a non-empty string") }
            return scalar.string
        }

        func integer(_ node: Node, _ what: String, _ range: ClosedRange<Int64>) throws -> Int64 {
            guard case .scalar(let scalar) = node, let value = Int64(scalar.string) else { throw fail(node, "\(what) must be an integer") }
            guard range.contains(value) else { throw fail(node, "\(what) must be between \(range.lowerBound) and \(range.upperBound)") }
            return value
        }

        func path(_ node: Node, _ what: String) throws -> String {
            let value = try string(node, what)
            return value.hasPrefix("/") ? value : base + "/" + value
        }

        func endpoint(_ node: Node, _ what: String) throws -> EdgeConfig.Endpoint {
            let text = try string(node, what)
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port),
                  colon != text.startIndex else {
                throw fail(node, "\(what) must be host:port with a port from 1 to 65535")
            }
            return EdgeConfig.Endpoint(host: String(text[..<colon]), port: port)
        }

        func config(_ root: Node) throws -> EdgeConfig {
            let top = try mapping(root, "the file", allowed: ["version", "regions", "upstream", "rate_limits", "idempotency", "drain"],
                                  required: ["version", "regions", "upstream"])
            guard try integer(top["version"]!, "version", 1...1) == 1 else { throw fail(top["version"], "version must be 1") }

            var regions: [EdgeConfig.Region] = []
            var edgeIDs: Set<String> = [], listens: Set<EdgeConfig.Endpoint> = []
            let regionNodes = try sequence(top["regions"]!, "regions")
            guard !regionNodes.isEmpty else { throw fail(top["regions"], "regions must list at least one region") }
            for regionNode in regionNodes {
                let region = try mapping(regionNode, "region", allowed: ["name", "edges"], required: ["name", "edges"])
                let name = try string(region["name"]!, "region name")
                guard name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }) else {
                    throw fail(region["name"], "region name must be lowercase letters, digits and dashes")
                }
                guard !regions.contains(where: { $0.name == name }) else { throw fail(region["name"], "region \"\(name)\" is listed twice") }
                var edges: [EdgeConfig.Edge] = []
                for edgeNode in try sequence(region["edges"]!, "edges") {
                    let edge = try mapping(edgeNode, "edge", allowed: ["id", "listen", "advertise", "tls"], required: ["id", "listen", "tls"])
                    let id = try string(edge["id"]!, "edge id")
                    guard edgeIDs.insert(id).inserted else { throw fail(edge["id"], "edge id \"\(id)\" is used twice") }
                    let listen = try endpoint(edge["listen"]!, "listen")
                    guard listens.insert(listen).inserted else { throw fail(edge["listen"], "two edges listen on \(listen)") }
                    let tls = try mapping(edge["tls"]!, "tls", allowed: ["certificate", "key"], required: ["certificate", "key"])
                    let advertise = try edge["advertise"].map { try endpoint($0, "advertise").description }
                    edges.append(EdgeConfig.Edge(id: id, listen: listen,
                                                 tls: .init(certificate: try path(tls["certificate"]!, "certificate"), key: try path(tls["key"]!, "key")),
                                                 advertise: advertise))
                }
                guard !edges.isEmpty else { throw fail(region["edges"], "region \"\(name)\" has no edges") }
                regions.append(EdgeConfig.Region(name: name, edges: edges))
            }

            let upstreamMap = try mapping(top["upstream"]!, "upstream", allowed: ["endpoints", "ca", "timeout_ms"], required: ["endpoints", "ca"])
            let endpointNodes = try sequence(upstreamMap["endpoints"]!, "upstream endpoints")
            guard !endpointNodes.isEmpty else { throw fail(upstreamMap["endpoints"], "upstream endpoints must list at least one core") }
            let upstream = EdgeConfig.Upstream(endpoints: try endpointNodes.map { try endpoint($0, "upstream endpoint") },
                                               ca: try path(upstreamMap["ca"]!, "ca"),
                                               timeoutMs: try upstreamMap["timeout_ms"].map { try integer($0, "timeout_ms", 100...120_000) } ?? 30_000)

            var rateLimits = EdgeRateLimiter.Configuration()
            if let limitsNode = top["rate_limits"] {
                let limits = try mapping(limitsNode, "rate_limits", allowed: ["default_tier", "tiers", "merchants"], required: ["default_tier", "tiers"])
                var tiers: [String: EdgeRateLimiter.Tier] = [:]
                guard case .mapping(let tierMap) = limits["tiers"]! else { throw fail(limits["tiers"], "tiers must be a mapping of tier names") }
                for (tierKey, tierNode) in tierMap {
                    let tierName = try string(tierKey, "tier name")
                    let tier = try mapping(tierNode, "tier \(tierName)", allowed: ["merchant", "api_key"], required: ["merchant", "api_key"])
                    tiers[tierName] = EdgeRateLimiter.Tier(merchant: try limit(tier["merchant"]!, "\(tierName).merchant"),
                                                           apiKey: try limit(tier["api_key"]!, "\(tierName).api_key"))
                }
                let defaultTier = try string(limits["default_tier"]!, "default_tier")
                guard tiers[defaultTier] != nil else { throw fail(limits["default_tier"], "default_tier \"\(defaultTier)\" is not among the tiers") }
                var merchantTiers: [String: String] = [:]
                if let merchantsNode = limits["merchants"] {
                    guard case .mapping(let merchants) = merchantsNode else { throw fail(merchantsNode, "merchants must map merchant ids to tiers") }
                    for (merchantKey, tierNode) in merchants {
                        let tier = try string(tierNode, "merchant tier")
                        guard tiers[tier] != nil else { throw fail(tierNode, "tier \"\(tier)\" is not among the tiers") }
                        merchantTiers[try string(merchantKey, "merchant id")] = tier
                    }
                }
                rateLimits = EdgeRateLimiter.Configuration(tiers: tiers, defaultTier: defaultTier, merchantTiers: merchantTiers)
            }

            var retentionMs: Int64 = 600_000
            if let node = top["idempotency"] {
                let idempotency = try mapping(node, "idempotency", allowed: ["retention_seconds"], required: ["retention_seconds"])
                retentionMs = try integer(idempotency["retention_seconds"]!, "retention_seconds", 1...86_400) * 1000
            }
            var drainMs: Int64 = 30_000
            if let node = top["drain"] {
                let drain = try mapping(node, "drain", allowed: ["timeout_seconds"], required: ["timeout_seconds"])
                drainMs = try integer(drain["timeout_seconds"]!, "timeout_seconds", 1...3_600) * 1000
            }
            return EdgeConfig(regions: regions, upstream: upstream, rateLimits: rateLimits, idempotencyRetentionMs: retentionMs,
                              drainTimeoutMs: drainMs)
        }

        func limit(_ node: Node, _ what: String) throws -> RateLimit {
            let fields = try mapping(node, what, allowed: ["per_second", "burst"], required: ["per_second", "burst"])
            return RateLimit(perSecond: Int(try integer(fields["per_second"]!, "\(what).per_second", 1...1_000_000)),
                             burst: Int(try integer(fields["burst"]!, "\(what).burst", 1...10_000_000)))
        }
    }
}
