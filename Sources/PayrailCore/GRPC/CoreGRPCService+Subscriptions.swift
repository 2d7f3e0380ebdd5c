import GRPCCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime

/// Plans, subscriptions and their invoices.
extension CoreGRPCService {
    public func createPlan(request: Payrail_Internal_V1_CreatePlanCall, context: ServerContext) async throws -> Payrail_V1_Plan {
        try await mapped("CreatePlan", request.context) {
            let body = try RequestValidation.createPlan(request.request)
            return ProtoMapping.proto(try await subscriptions.createPlan(try caller(request.context), name: body.name, amount: body.amount,
                                                                         interval: body.interval, trialDays: body.trialDays))
        }
    }

    public func createSubscription(request: Payrail_Internal_V1_CreateSubscriptionCall, context: ServerContext) async throws -> Payrail_V1_Subscription {
        try await mapped("CreateSubscription", request.context) {
            let body = try RequestValidation.createSubscription(request.request)
            return ProtoMapping.proto(try await subscriptions.createSubscription(try caller(request.context), idempotencyKey: body.idempotencyKey,
                                                                                 planID: body.planID, cardToken: body.cardToken))
        }
    }

    public func getSubscription(request: Payrail_Internal_V1_GetSubscriptionCall, context: ServerContext) async throws -> Payrail_V1_Subscription {
        try await mapped("GetSubscription", request.context) {
            let id = try RequestValidation.subscriptionID(request.request.subscriptionID)
            return ProtoMapping.proto(try await subscriptions.subscription(try caller(request.context), id: id))
        }
    }

    public func cancelSubscription(request: Payrail_Internal_V1_CancelSubscriptionCall, context: ServerContext) async throws -> Payrail_V1_Subscription {
        try await mapped("CancelSubscription", request.context) {
            let id = try RequestValidation.subscriptionID(request.request.subscriptionID)
            return ProtoMapping.proto(try await subscriptions.cancel(try caller(request.context), id: id, atPeriodEnd: request.request.atPeriodEnd))
        }
    }

    public func listInvoices(request: Payrail_Internal_V1_ListInvoicesCall, context: ServerContext) async throws -> Payrail_V1_ListInvoicesResponse {
        try await mapped("ListInvoices", request.context) {
            let id = try RequestValidation.subscriptionID(request.request.subscriptionID)
            let invoices = try await subscriptions.invoices(try caller(request.context), subscriptionID: id)
            return .with { $0.invoices = invoices.map(ProtoMapping.proto) }
        }
    }
}
