import GRPCNIOTransportHTTP2
import PayrailDomain

/// The HTTP/2 limits of Payrail's two kinds of gRPC listener, defined once so that what stands
/// in for a listener in a measurement (the echo baseline, the null core) serves under exactly
/// the limits of what it stands in for.
public enum ListenerConfig {
    /// A merchant-facing listener (the edge, and the echo baseline measured against it).
    /// The payload cap is a hard stop; requests above `RequestLimits.messageBytesMax` already get
    /// a typed error from the edge's deserializer.
    public static func publicServer() -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.http2.maxConcurrentStreams = 1024
        config.rpc.maxRequestPayloadSize = 1 << 20
        return config
    }

    /// The core's internal listener (and the null core): many edges' streams on few connections,
    /// and a call carries a merchant's request plus its context.
    public static func internalServer() -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.http2.maxConcurrentStreams = 4096
        config.rpc.maxRequestPayloadSize = RequestLimits.messageBytesMax * 2
        return config
    }
}
