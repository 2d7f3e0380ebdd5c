import GRPCCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime

/// Reviews of held payments and the merchant's risk lists.
extension CoreGRPCService {
    public func reviewPayment(request: Payrail_Internal_V1_ReviewPaymentCall, context: ServerContext) async throws -> Payrail_V1_Payment {
        try await reviewPayment(request)
    }

    func reviewPayment(_ request: Payrail_Internal_V1_ReviewPaymentCall) async throws -> Payrail_V1_Payment {
        try await mapped("ReviewPayment", request.context) {
            let body = try RequestValidation.review(request.request)
            return try paymentResponse(try await payments.reviewPayment(try caller(request.context), idempotencyKey: body.idempotencyKey,
                                                                        paymentID: body.paymentID, approve: body.approve, note: body.note))
        }
    }

    public func addRiskListEntry(request: Payrail_Internal_V1_AddRiskListEntryCall, context: ServerContext) async throws -> Payrail_V1_RiskListEntry {
        try await mapped("AddRiskListEntry", request.context) {
            let caller = try caller(request.context)
            let (list, kind, value) = try RequestValidation.riskListEntry(request.request.list, request.request.kind, request.request.value)
            let entry = try await payments.risk.addListEntry(RiskListEntry(merchantID: caller.merchantID, list: list, kind: kind, value: value,
                                                                           createdAtMs: now()))
            return RequestValidation.proto(entry)
        }
    }

    public func removeRiskListEntry(request: Payrail_Internal_V1_RemoveRiskListEntryCall, context: ServerContext) async throws -> Payrail_V1_RemoveRiskListEntryResponse {
        try await mapped("RemoveRiskListEntry", request.context) {
            let caller = try caller(request.context)
            let (list, kind, value) = try RequestValidation.riskListEntry(request.request.list, request.request.kind, request.request.value)
            let removed = try await payments.risk.removeListEntry(merchantID: caller.merchantID, list: list, kind: kind, value: value)
            return .with { $0.removed = removed }
        }
    }

    public func listRiskListEntries(request: Payrail_Internal_V1_ListRiskListEntriesCall, context: ServerContext) async throws -> Payrail_V1_ListRiskListEntriesResponse {
        try await mapped("ListRiskListEntries", request.context) {
            let entries = try await payments.risk.listEntries(merchantID: try caller(request.context).merchantID)
            return .with { $0.entries = entries.map(RequestValidation.proto) }
        }
    }
}
