import GRPCCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime

/// Payouts: create (idempotent), read, list.
extension CoreGRPCService {
    public func createPayout(request: Payrail_Internal_V1_CreatePayoutCall, context: ServerContext) async throws -> Payrail_V1_Payout {
        try await mapped("CreatePayout", request.context) {
            let command = try RequestValidation.createPayout(request.request)
            switch try await payouts.createPayout(try caller(request.context), command) {
            case .current(let payout): return ProtoMapping.proto(payout)
            case .replayed(let bytes): return try Payrail_V1_Payout(serializedBytes: bytes)
            }
        }
    }

    public func getPayout(request: Payrail_Internal_V1_GetPayoutCall, context: ServerContext) async throws -> Payrail_V1_Payout {
        try await mapped("GetPayout", request.context) {
            let id = try RequestValidation.payoutID(request.request.payoutID)
            return ProtoMapping.proto(try await payouts.payout(try caller(request.context), id: id))
        }
    }

    public func listPayouts(request: Payrail_Internal_V1_ListPayoutsCall, context: ServerContext) async throws -> Payrail_V1_ListPayoutsResponse {
        try await mapped("ListPayouts", request.context) {
            let limit = try RequestValidation.listPayoutsLimit(request.request.limit)
            let found = try await payouts.payouts(try caller(request.context), limit: limit)
            return .with { $0.payouts = found.map(ProtoMapping.proto) }
        }
    }
}
