import GRPCCore
import GRPCNIOTransportHTTP2
import PayrailProtos
import PayrailRuntime

/// The baseline target: `payrail.loadtest.v1.Echo` served exactly as the edge serves merchants
/// (grpc-swift-2 on swift-nio-http2, the same TLS listener configuration and HTTP/2 limits),
/// doing nothing else. What it sustains on this machine is the ceiling the system's
/// throughput is reported against.
public struct EchoService: Payrail_Loadtest_V1_Echo.SimpleServiceProtocol {
    public init() {}
    public func echo(request: Payrail_Loadtest_V1_EchoRequest, context: ServerContext) async throws -> Payrail_Loadtest_V1_EchoResponse {
        var response = Payrail_Loadtest_V1_EchoResponse()
        response.payload = request.payload
        return response
    }
}

public enum EchoServer {
    /// A server for `EchoService` with the edge's TLS and HTTP/2 settings; run it with
    /// `GRPCServerService` (or `serve()`).
    public static func make(host: String, port: Int, certificatePath: String, keyPath: String) -> GRPCServer<HTTP2ServerTransport.Posix> {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port),
            transportSecurity: TransportSecurityFactory.publicServer(certificatePath: certificatePath, keyPath: keyPath),
            config: ListenerConfig.publicServer())
        return GRPCServer(transport: transport, services: [EchoService()])
    }
}
