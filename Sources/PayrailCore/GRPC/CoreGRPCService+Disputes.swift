import GRPCCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime

/// Chargebacks: list, read, answer with evidence, accept.
extension CoreGRPCService {
    public func listDisputes(request: Payrail_Internal_V1_ListDisputesCall, context: ServerContext) async throws -> Payrail_V1_ListDisputesResponse {
        try await mapped("ListDisputes", request.context) {
            let (paymentID, limit) = try RequestValidation.listDisputes(request.request)
            let found = try await disputes.disputes(try caller(request.context), paymentID: paymentID, limit: limit)
            return .with { $0.disputes = found.map(ProtoMapping.proto) }
        }
    }

    public func getDispute(request: Payrail_Internal_V1_GetDisputeCall, context: ServerContext) async throws -> Payrail_V1_Dispute {
        try await mapped("GetDispute", request.context) {
            let id = try RequestValidation.disputeID(request.request.disputeID)
            return ProtoMapping.proto(try await disputes.dispute(try caller(request.context), id: id))
        }
    }

    public func submitDisputeEvidence(request: Payrail_Internal_V1_SubmitDisputeEvidenceCall, context: ServerContext) async throws -> Payrail_V1_Dispute {
        try await mapped("SubmitDisputeEvidence", request.context) {
            let id = try RequestValidation.disputeID(request.request.disputeID)
            let evidence = try RequestValidation.disputeEvidence(request.request.evidence)
            return ProtoMapping.proto(try await disputes.submitEvidence(try caller(request.context), id: id, evidence: evidence))
        }
    }

    public func acceptDispute(request: Payrail_Internal_V1_AcceptDisputeCall, context: ServerContext) async throws -> Payrail_V1_Dispute {
        try await mapped("AcceptDispute", request.context) {
            let id = try RequestValidation.disputeID(request.request.disputeID)
            return ProtoMapping.proto(try await disputes.accept(try caller(request.context), id: id))
        }
    }
}
