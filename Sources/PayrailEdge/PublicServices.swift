import GRPCCore
import PayrailProtos

/// The generated public service protocols, answered by the gateway. They use the
/// metadata-aware `ServiceProtocol` level because authentication travels in metadata, and
/// register their methods with a size-limited deserializer (see ``SizeLimitedDeserializer``).
struct PaymentsService: Payrail_V1_Payments.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias M = Payrail_V1_Payments.Method
        router.registerLimited(M.CreatePayment.descriptor, Payrail_V1_CreatePaymentRequest.self, Payrail_V1_Payment.self) {
            try await self.createPayment(request: $0, context: $1)
        }
        router.registerLimited(M.GetPayment.descriptor, Payrail_V1_GetPaymentRequest.self, Payrail_V1_Payment.self) {
            try await self.getPayment(request: $0, context: $1)
        }
        router.registerLimited(M.ConfirmPayment.descriptor, Payrail_V1_ConfirmPaymentRequest.self, Payrail_V1_Payment.self) {
            try await self.confirmPayment(request: $0, context: $1)
        }
        router.registerLimited(M.CapturePayment.descriptor, Payrail_V1_CapturePaymentRequest.self, Payrail_V1_Payment.self) {
            try await self.capturePayment(request: $0, context: $1)
        }
        router.registerLimited(M.CancelPayment.descriptor, Payrail_V1_CancelPaymentRequest.self, Payrail_V1_Payment.self) {
            try await self.cancelPayment(request: $0, context: $1)
        }
        router.registerLimited(M.ListPayments.descriptor, Payrail_V1_ListPaymentsRequest.self, Payrail_V1_ListPaymentsResponse.self) {
            try await self.listPayments(request: $0, context: $1)
        }
        router.registerLimited(M.ReviewPayment.descriptor, Payrail_V1_ReviewPaymentRequest.self, Payrail_V1_Payment.self) {
            try await self.reviewPayment(request: $0, context: $1)
        }
    }

    func reviewPayment(request: ServerRequest<Payrail_V1_ReviewPaymentRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Payment> {
        ServerResponse(message: try await gateway.reviewPayment(request.message, request.metadata))
    }

    func createPayment(request: ServerRequest<Payrail_V1_CreatePaymentRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Payment> {
        ServerResponse(message: try await gateway.createPayment(request.message, request.metadata))
    }
    func getPayment(request: ServerRequest<Payrail_V1_GetPaymentRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Payment> {
        ServerResponse(message: try await gateway.getPayment(request.message, request.metadata))
    }
    func confirmPayment(request: ServerRequest<Payrail_V1_ConfirmPaymentRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Payment> {
        ServerResponse(message: try await gateway.confirmPayment(request.message, request.metadata))
    }
    func capturePayment(request: ServerRequest<Payrail_V1_CapturePaymentRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Payment> {
        ServerResponse(message: try await gateway.capturePayment(request.message, request.metadata))
    }
    func cancelPayment(request: ServerRequest<Payrail_V1_CancelPaymentRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Payment> {
        ServerResponse(message: try await gateway.cancelPayment(request.message, request.metadata))
    }
    func listPayments(request: ServerRequest<Payrail_V1_ListPaymentsRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_ListPaymentsResponse> {
        ServerResponse(message: try await gateway.listPayments(request.message, request.metadata))
    }
}

struct RefundsService: Payrail_V1_Refunds.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias M = Payrail_V1_Refunds.Method
        router.registerLimited(M.CreateRefund.descriptor, Payrail_V1_CreateRefundRequest.self, Payrail_V1_Refund.self) {
            try await self.createRefund(request: $0, context: $1)
        }
        router.registerLimited(M.GetRefund.descriptor, Payrail_V1_GetRefundRequest.self, Payrail_V1_Refund.self) {
            try await self.getRefund(request: $0, context: $1)
        }
        router.registerLimited(M.ListRefunds.descriptor, Payrail_V1_ListRefundsRequest.self, Payrail_V1_ListRefundsResponse.self) {
            try await self.listRefunds(request: $0, context: $1)
        }
    }

    func createRefund(request: ServerRequest<Payrail_V1_CreateRefundRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Refund> {
        ServerResponse(message: try await gateway.createRefund(request.message, request.metadata))
    }
    func getRefund(request: ServerRequest<Payrail_V1_GetRefundRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Refund> {
        ServerResponse(message: try await gateway.getRefund(request.message, request.metadata))
    }
    func listRefunds(request: ServerRequest<Payrail_V1_ListRefundsRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_ListRefundsResponse> {
        ServerResponse(message: try await gateway.listRefunds(request.message, request.metadata))
    }
}

struct SubscriptionsService: Payrail_V1_Subscriptions.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias M = Payrail_V1_Subscriptions.Method
        router.registerLimited(M.CreatePlan.descriptor, Payrail_V1_CreatePlanRequest.self, Payrail_V1_Plan.self) {
            try await self.createPlan(request: $0, context: $1)
        }
        router.registerLimited(M.CreateSubscription.descriptor, Payrail_V1_CreateSubscriptionRequest.self, Payrail_V1_Subscription.self) {
            try await self.createSubscription(request: $0, context: $1)
        }
        router.registerLimited(M.GetSubscription.descriptor, Payrail_V1_GetSubscriptionRequest.self, Payrail_V1_Subscription.self) {
            try await self.getSubscription(request: $0, context: $1)
        }
        router.registerLimited(M.CancelSubscription.descriptor, Payrail_V1_CancelSubscriptionRequest.self, Payrail_V1_Subscription.self) {
            try await self.cancelSubscription(request: $0, context: $1)
        }
        router.registerLimited(M.ListInvoices.descriptor, Payrail_V1_ListInvoicesRequest.self, Payrail_V1_ListInvoicesResponse.self) {
            try await self.listInvoices(request: $0, context: $1)
        }
    }

    func createPlan(request: ServerRequest<Payrail_V1_CreatePlanRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Plan> {
        ServerResponse(message: try await gateway.createPlan(request.message, request.metadata))
    }
    func createSubscription(request: ServerRequest<Payrail_V1_CreateSubscriptionRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Subscription> {
        ServerResponse(message: try await gateway.createSubscription(request.message, request.metadata))
    }
    func getSubscription(request: ServerRequest<Payrail_V1_GetSubscriptionRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Subscription> {
        ServerResponse(message: try await gateway.getSubscription(request.message, request.metadata))
    }
    func cancelSubscription(request: ServerRequest<Payrail_V1_CancelSubscriptionRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Subscription> {
        ServerResponse(message: try await gateway.cancelSubscription(request.message, request.metadata))
    }
    func listInvoices(request: ServerRequest<Payrail_V1_ListInvoicesRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_ListInvoicesResponse> {
        ServerResponse(message: try await gateway.listInvoices(request.message, request.metadata))
    }
}

struct PayoutsService: Payrail_V1_Payouts.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias M = Payrail_V1_Payouts.Method
        router.registerLimited(M.CreatePayout.descriptor, Payrail_V1_CreatePayoutRequest.self, Payrail_V1_Payout.self) {
            try await self.createPayout(request: $0, context: $1)
        }
        router.registerLimited(M.GetPayout.descriptor, Payrail_V1_GetPayoutRequest.self, Payrail_V1_Payout.self) {
            try await self.getPayout(request: $0, context: $1)
        }
        router.registerLimited(M.ListPayouts.descriptor, Payrail_V1_ListPayoutsRequest.self, Payrail_V1_ListPayoutsResponse.self) {
            try await self.listPayouts(request: $0, context: $1)
        }
    }

    func createPayout(request: ServerRequest<Payrail_V1_CreatePayoutRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Payout> {
        ServerResponse(message: try await gateway.createPayout(request.message, request.metadata))
    }
    func getPayout(request: ServerRequest<Payrail_V1_GetPayoutRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Payout> {
        ServerResponse(message: try await gateway.getPayout(request.message, request.metadata))
    }
    func listPayouts(request: ServerRequest<Payrail_V1_ListPayoutsRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_ListPayoutsResponse> {
        ServerResponse(message: try await gateway.listPayouts(request.message, request.metadata))
    }
}

struct DisputesService: Payrail_V1_Disputes.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias M = Payrail_V1_Disputes.Method
        router.registerLimited(M.ListDisputes.descriptor, Payrail_V1_ListDisputesRequest.self, Payrail_V1_ListDisputesResponse.self) {
            try await self.listDisputes(request: $0, context: $1)
        }
        router.registerLimited(M.GetDispute.descriptor, Payrail_V1_GetDisputeRequest.self, Payrail_V1_Dispute.self) {
            try await self.getDispute(request: $0, context: $1)
        }
        router.registerLimited(M.SubmitDisputeEvidence.descriptor, Payrail_V1_SubmitDisputeEvidenceRequest.self, Payrail_V1_Dispute.self) {
            try await self.submitDisputeEvidence(request: $0, context: $1)
        }
        router.registerLimited(M.AcceptDispute.descriptor, Payrail_V1_AcceptDisputeRequest.self, Payrail_V1_Dispute.self) {
            try await self.acceptDispute(request: $0, context: $1)
        }
    }

    func listDisputes(request: ServerRequest<Payrail_V1_ListDisputesRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_ListDisputesResponse> {
        ServerResponse(message: try await gateway.listDisputes(request.message, request.metadata))
    }
    func getDispute(request: ServerRequest<Payrail_V1_GetDisputeRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Dispute> {
        ServerResponse(message: try await gateway.getDispute(request.message, request.metadata))
    }
    func submitDisputeEvidence(request: ServerRequest<Payrail_V1_SubmitDisputeEvidenceRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Dispute> {
        ServerResponse(message: try await gateway.submitDisputeEvidence(request.message, request.metadata))
    }
    func acceptDispute(request: ServerRequest<Payrail_V1_AcceptDisputeRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Dispute> {
        ServerResponse(message: try await gateway.acceptDispute(request.message, request.metadata))
    }
}

struct TokensService: Payrail_V1_Tokens.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerLimited(Payrail_V1_Tokens.Method.CreateCardToken.descriptor, Payrail_V1_CreateCardTokenRequest.self,
                               Payrail_V1_CardSummary.self) {
            try await self.createCardToken(request: $0, context: $1)
        }
        router.registerLimited(Payrail_V1_Tokens.Method.EraseCustomer.descriptor, Payrail_V1_EraseCustomerRequest.self,
                               Payrail_V1_EraseCustomerResponse.self) {
            try await self.eraseCustomer(request: $0, context: $1)
        }
    }

    func eraseCustomer(request: ServerRequest<Payrail_V1_EraseCustomerRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_EraseCustomerResponse> {
        ServerResponse(message: try await gateway.eraseCustomer(request.message, request.metadata))
    }

    func createCardToken(request: ServerRequest<Payrail_V1_CreateCardTokenRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_CardSummary> {
        ServerResponse(message: try await gateway.createCardToken(request.message, request.metadata))
    }
}

struct BalancesService: Payrail_V1_Balances.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerLimited(Payrail_V1_Balances.Method.GetBalance.descriptor, Payrail_V1_GetBalanceRequest.self, Payrail_V1_Balance.self) {
            try await self.getBalance(request: $0, context: $1)
        }
    }

    func getBalance(request: ServerRequest<Payrail_V1_GetBalanceRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_Balance> {
        ServerResponse(message: try await gateway.getBalance(request.message, request.metadata))
    }
}

struct FXQuotesService: Payrail_V1_FXQuotes.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerLimited(Payrail_V1_FXQuotes.Method.CreateFXQuote.descriptor, Payrail_V1_CreateFXQuoteRequest.self, Payrail_V1_FXQuote.self) {
            try await self.createFXQuote(request: $0, context: $1)
        }
    }

    func createFXQuote(request: ServerRequest<Payrail_V1_CreateFXQuoteRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_FXQuote> {
        ServerResponse(message: try await gateway.createFXQuote(request.message, request.metadata))
    }
}

/// The webhook endpoints API (docs/webhooks.md).
struct WebhookEndpointsService: Payrail_V1_WebhookEndpoints.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerLimited(Payrail_V1_WebhookEndpoints.Method.CreateWebhookEndpoint.descriptor, Payrail_V1_CreateWebhookEndpointRequest.self, Payrail_V1_WebhookEndpoint.self) {
            try await self.createWebhookEndpoint(request: $0, context: $1)
        }
        router.registerLimited(Payrail_V1_WebhookEndpoints.Method.GetWebhookEndpoint.descriptor, Payrail_V1_GetWebhookEndpointRequest.self, Payrail_V1_WebhookEndpoint.self) {
            try await self.getWebhookEndpoint(request: $0, context: $1)
        }
        router.registerLimited(Payrail_V1_WebhookEndpoints.Method.ListWebhookEndpoints.descriptor, Payrail_V1_ListWebhookEndpointsRequest.self, Payrail_V1_ListWebhookEndpointsResponse.self) {
            try await self.listWebhookEndpoints(request: $0, context: $1)
        }
        router.registerLimited(Payrail_V1_WebhookEndpoints.Method.UpdateWebhookEndpoint.descriptor, Payrail_V1_UpdateWebhookEndpointRequest.self, Payrail_V1_WebhookEndpoint.self) {
            try await self.updateWebhookEndpoint(request: $0, context: $1)
        }
        router.registerLimited(Payrail_V1_WebhookEndpoints.Method.DeleteWebhookEndpoint.descriptor, Payrail_V1_DeleteWebhookEndpointRequest.self, Payrail_V1_DeleteWebhookEndpointResponse.self) {
            try await self.deleteWebhookEndpoint(request: $0, context: $1)
        }
        router.registerLimited(Payrail_V1_WebhookEndpoints.Method.RotateWebhookSecret.descriptor, Payrail_V1_RotateWebhookSecretRequest.self, Payrail_V1_WebhookEndpoint.self) {
            try await self.rotateWebhookSecret(request: $0, context: $1)
        }
        router.registerLimited(Payrail_V1_WebhookEndpoints.Method.ResendWebhookEvent.descriptor, Payrail_V1_ResendWebhookEventRequest.self, Payrail_V1_WebhookDelivery.self) {
            try await self.resendWebhookEvent(request: $0, context: $1)
        }
        router.registerLimited(Payrail_V1_WebhookEndpoints.Method.ListWebhookDeliveries.descriptor, Payrail_V1_ListWebhookDeliveriesRequest.self, Payrail_V1_ListWebhookDeliveriesResponse.self) {
            try await self.listWebhookDeliveries(request: $0, context: $1)
        }
    }

    func createWebhookEndpoint(request: ServerRequest<Payrail_V1_CreateWebhookEndpointRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_WebhookEndpoint> {
        ServerResponse(message: try await gateway.createWebhookEndpoint(request.message, request.metadata))
    }

    func getWebhookEndpoint(request: ServerRequest<Payrail_V1_GetWebhookEndpointRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_WebhookEndpoint> {
        ServerResponse(message: try await gateway.getWebhookEndpoint(request.message, request.metadata))
    }

    func listWebhookEndpoints(request: ServerRequest<Payrail_V1_ListWebhookEndpointsRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_ListWebhookEndpointsResponse> {
        ServerResponse(message: try await gateway.listWebhookEndpoints(request.message, request.metadata))
    }

    func updateWebhookEndpoint(request: ServerRequest<Payrail_V1_UpdateWebhookEndpointRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_WebhookEndpoint> {
        ServerResponse(message: try await gateway.updateWebhookEndpoint(request.message, request.metadata))
    }

    func deleteWebhookEndpoint(request: ServerRequest<Payrail_V1_DeleteWebhookEndpointRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_DeleteWebhookEndpointResponse> {
        ServerResponse(message: try await gateway.deleteWebhookEndpoint(request.message, request.metadata))
    }

    func rotateWebhookSecret(request: ServerRequest<Payrail_V1_RotateWebhookSecretRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_WebhookEndpoint> {
        ServerResponse(message: try await gateway.rotateWebhookSecret(request.message, request.metadata))
    }

    func resendWebhookEvent(request: ServerRequest<Payrail_V1_ResendWebhookEventRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_WebhookDelivery> {
        ServerResponse(message: try await gateway.resendWebhookEvent(request.message, request.metadata))
    }

    func listWebhookDeliveries(request: ServerRequest<Payrail_V1_ListWebhookDeliveriesRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_ListWebhookDeliveriesResponse> {
        ServerResponse(message: try await gateway.listWebhookDeliveries(request.message, request.metadata))
    }
}

struct DiscoveryService: Payrail_V1_Discovery.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerLimited(Payrail_V1_Discovery.Method.GetRegionMap.descriptor, Payrail_V1_GetRegionMapRequest.self,
                               Payrail_V1_RegionMap.self) {
            try await self.getRegionMap(request: $0, context: $1)
        }
    }

    func getRegionMap(request: ServerRequest<Payrail_V1_GetRegionMapRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_RegionMap> {
        ServerResponse(message: try await gateway.getRegionMap(request.message, request.metadata))
    }
}

struct RiskListsService: Payrail_V1_RiskLists.ServiceProtocol {
    let gateway: EdgeGateway

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias M = Payrail_V1_RiskLists.Method
        router.registerLimited(M.AddRiskListEntry.descriptor, Payrail_V1_AddRiskListEntryRequest.self, Payrail_V1_RiskListEntry.self) {
            try await self.addRiskListEntry(request: $0, context: $1)
        }
        router.registerLimited(M.RemoveRiskListEntry.descriptor, Payrail_V1_RemoveRiskListEntryRequest.self,
                               Payrail_V1_RemoveRiskListEntryResponse.self) {
            try await self.removeRiskListEntry(request: $0, context: $1)
        }
        router.registerLimited(M.ListRiskListEntries.descriptor, Payrail_V1_ListRiskListEntriesRequest.self,
                               Payrail_V1_ListRiskListEntriesResponse.self) {
            try await self.listRiskListEntries(request: $0, context: $1)
        }
    }

    func addRiskListEntry(request: ServerRequest<Payrail_V1_AddRiskListEntryRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_RiskListEntry> {
        ServerResponse(message: try await gateway.addRiskListEntry(request.message, request.metadata))
    }
    func removeRiskListEntry(request: ServerRequest<Payrail_V1_RemoveRiskListEntryRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_RemoveRiskListEntryResponse> {
        ServerResponse(message: try await gateway.removeRiskListEntry(request.message, request.metadata))
    }
    func listRiskListEntries(request: ServerRequest<Payrail_V1_ListRiskListEntriesRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_ListRiskListEntriesResponse> {
        ServerResponse(message: try await gateway.listRiskListEntries(request.message, request.metadata))
    }
}
