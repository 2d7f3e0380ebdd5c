import GRPCCore
import PayrailProtos

/// A call's error on the `PaymentCalls` stream carries the same facts as a unary call's status
/// and trailers, so an edge relays it to the merchant exactly as it would relay a unary error.
extension RPCErrorMapping {
    /// The error a core answers a piped call with: status code, message, and the Payrail
    /// metadata (`reason`, `field`, `decline_code`, status details) that ``relayed(_:)`` keeps.
    public static func piped(_ error: RPCError) -> Payrail_Internal_V1_PipedError {
        var piped = Payrail_Internal_V1_PipedError()
        piped.code = Int32(error.code.rawValue)
        piped.message = error.message
        piped.reason = error.metadata[stringValues: reasonKey].first(where: { _ in true }) ?? ""
        piped.field = error.metadata[stringValues: fieldKey].first(where: { _ in true }) ?? ""
        piped.declineCode = error.metadata[stringValues: declineCodeKey].first(where: { _ in true }) ?? ""
        if let details = error.metadata[binaryValues: statusDetailsKey].first(where: { _ in true }) {
            piped.statusDetails = .init(details)
        }
        return piped
    }

    /// The `RPCError` a unary call would have ended with; an unknown code becomes `unknown`.
    public static func rpcError(_ piped: Payrail_Internal_V1_PipedError) -> RPCError {
        let code = Status.Code(rawValue: Int(piped.code)).flatMap(RPCError.Code.init) ?? .unknown
        var metadata: Metadata = [:]
        if !piped.reason.isEmpty { metadata.addString(piped.reason, forKey: reasonKey) }
        if !piped.field.isEmpty { metadata.addString(piped.field, forKey: fieldKey) }
        if !piped.declineCode.isEmpty { metadata.addString(piped.declineCode, forKey: declineCodeKey) }
        if !piped.statusDetails.isEmpty { metadata.addBinary(Array(piped.statusDetails), forKey: statusDetailsKey) }
        return RPCError(code: code, message: piped.message, metadata: metadata)
    }
}
