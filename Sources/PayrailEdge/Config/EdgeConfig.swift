import PayrailDomain

/// What an `edge-config/*.yaml` file says, validated (see edge-config/README.md for the
/// schema). Paths are resolved against the file's folder.
public struct EdgeConfig: Sendable, Equatable {
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { "\(host):\(port)" }
    }

    public struct TLSFiles: Sendable, Equatable {
        public var certificate: String
        public var key: String
    }

    public struct Edge: Sendable, Equatable {
        public var id: String
        public var listen: Endpoint
        public var tls: TLSFiles
        /// host:port clients use to reach the edge (the region map); nil: the listen address.
        public var advertise: String?
    }

    public struct Region: Sendable, Equatable {
        public var name: String
        public var edges: [Edge]
    }

    /// The core region the edges forward to, over mutual TLS.
    public struct Upstream: Sendable, Equatable {
        public var endpoints: [Endpoint]
        /// The internal CA that signed the core's certificate and the edges' client certificates.
        public var ca: String
        public var timeoutMs: Int64
    }

    public var regions: [Region]
    public var upstream: Upstream
    public var rateLimits: EdgeRateLimiter.Configuration
    public var idempotencyRetentionMs: Int64
    public var drainTimeoutMs: Int64

    /// The edge with this id and its region.
    public func edge(id: String) -> (region: Region, edge: Edge)? {
        for region in regions { if let edge = region.edges.first(where: { $0.id == id }) { return (region, edge) } }
        return nil
    }
}

extension EdgeRateLimiter.Configuration: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        a.tiers == b.tiers && a.defaultTier == b.defaultTier && a.merchantTiers == b.merchantTiers && a.maxKeys == b.maxKeys
    }
}

/// A refused configuration file: where and why.
public struct EdgeConfigError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    public let reason: String

    public var description: String { "\(file):\(line):\(column): \(reason)" }
}
