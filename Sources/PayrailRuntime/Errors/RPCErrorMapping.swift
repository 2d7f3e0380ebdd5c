import GRPCCore
import GRPCProtobuf
import PayrailDomain

/// Turns domain errors into gRPC statuses with machine-readable details, and back.
///
/// Every error carries, in trailing metadata:
/// - `grpc-status-details-bin`: a `google.rpc.Status` with a `google.rpc.ErrorInfo`
///   (`reason`, domain `payrail.dev`, metadata `field` and `decline_code`), the standard
///   that gRPC SDKs in every language can decode;
/// - `payrail-error-reason` (and `payrail-error-field`, `payrail-decline-code` when set):
///   the same facts as plain ASCII, for clients without a status-details decoder.
public enum RPCErrorMapping {
    public static let domain = "payrail.dev"
    public static let reasonKey = "payrail-error-reason"
    public static let fieldKey = "payrail-error-field"
    public static let declineCodeKey = "payrail-decline-code"
    /// Milliseconds after which the refused call may be retried (rate limits).
    public static let retryAfterKey = "payrail-retry-after-ms"
    /// The standard trailer holding a serialized `google.rpc.Status`.
    public static let statusDetailsKey = "grpc-status-details-bin"

    public static func rpcCode(_ category: PayrailError.Category) -> RPCError.Code {
        switch category {
        case .invalidArgument: .invalidArgument
        case .unauthenticated: .unauthenticated
        case .permissionDenied: .permissionDenied
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .failedPrecondition: .failedPrecondition
        case .aborted: .aborted
        case .resourceExhausted: .resourceExhausted
        case .unavailable: .unavailable
        case .deadlineExceeded: .deadlineExceeded
        case .internal: .internalError
        }
    }

    public static func category(_ code: RPCError.Code) -> PayrailError.Category {
        switch code {
        case .invalidArgument, .outOfRange: .invalidArgument
        case .unauthenticated: .unauthenticated
        case .permissionDenied: .permissionDenied
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .failedPrecondition: .failedPrecondition
        case .aborted: .aborted
        case .resourceExhausted: .resourceExhausted
        case .unavailable: .unavailable
        case .deadlineExceeded: .deadlineExceeded
        default: .internal
        }
    }

    public static func rpcError(_ error: PayrailError) -> RPCError {
        var infoMetadata: [String: String] = [:]
        var metadata: Metadata = [reasonKey: "\(error.code.reason)"]
        if let field = error.field {
            infoMetadata["field"] = field
            metadata.addString(field, forKey: fieldKey)
        }
        if let declineCode = error.declineCode {
            infoMetadata["decline_code"] = declineCode.rawValue
            metadata.addString(declineCode.rawValue, forKey: declineCodeKey)
        }
        if let retryAfterMs = error.retryAfterMs {
            infoMetadata["retry_after_ms"] = String(retryAfterMs)
            metadata.addString(String(retryAfterMs), forKey: retryAfterKey)
        }
        let code = rpcCode(error.code.category)
        let status = GoogleRPCStatus(code: code, message: error.message,
                                     details: [.errorInfo(reason: error.code.reason, domain: domain, metadata: infoMetadata)])
        if let bytes: [UInt8] = try? status.serializedBytes() {
            metadata.addBinary(bytes, forKey: statusDetailsKey)
        }
        return RPCError(code: code, message: error.message, metadata: metadata)
    }

    /// Recovers the domain error from a received `RPCError` (for SDK users and tests).
    public static func payrailError(_ error: RPCError) -> PayrailError {
        let reason = error.metadata[stringValues: reasonKey].first(where: { _ in true }) ?? "internal_error"
        var result = PayrailError(PayrailError.Code(reason, category(error.code)), error.message)
        result.field = error.metadata[stringValues: fieldKey].first(where: { _ in true })
        result.declineCode = error.metadata[stringValues: declineCodeKey].first(where: { _ in true }).map(DeclineCode.init)
        result.retryAfterMs = error.metadata[stringValues: retryAfterKey].first(where: { _ in true }).flatMap { Int64($0) }
        return result
    }

    /// The Payrail metadata of an error received from another Payrail process, so an edge can
    /// relay a core error to the merchant unchanged (and nothing else from the upstream).
    public static func relayed(_ error: RPCError) -> RPCError {
        var metadata: Metadata = [:]
        for key in [reasonKey, fieldKey, declineCodeKey] {
            for value in error.metadata[stringValues: key] { metadata.addString(value, forKey: key) }
        }
        for value in error.metadata[binaryValues: statusDetailsKey] {
            metadata.addBinary(value, forKey: statusDetailsKey)
        }
        return RPCError(code: error.code, message: error.message, metadata: metadata)
    }
}
