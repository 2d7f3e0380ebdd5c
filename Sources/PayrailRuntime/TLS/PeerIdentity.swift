import GRPCCore
import GRPCNIOTransportHTTP2
import X509

/// Who is on the other end of a mutual-TLS call: the common name of the client certificate the
/// internal CA issued (`payrail-edge`, `payrail-operator`, ...). Used to keep operator-only
/// calls (traffic changes) away from edges.
public enum PeerIdentity {
    public static func commonName(_ context: ServerContext) -> String? {
        guard let specific = context.transportSpecific as? HTTP2ServerTransport.Posix.Context,
              let certificate = specific.peerCertificate else { return nil }
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return attribute.value.description
            }
        }
        return nil
    }
}
