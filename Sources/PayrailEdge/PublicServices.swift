import GRPCCore
import PayrailProtos

/// The generated public service protocols, answered by the gateway. They use the
/// metadata-aware `ServiceProtocol` level because authentication travels in metadata.
struct PaymentsService: Payrail_V1_Payments.ServiceProtocol {
    let gateway: EdgeGateway

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

struct TokensService: Payrail_V1_Tokens.ServiceProtocol {
    let gateway: EdgeGateway

    func createCardToken(request: ServerRequest<Payrail_V1_CreateCardTokenRequest>, context: ServerContext) async throws -> ServerResponse<Payrail_V1_CardSummary> {
        ServerResponse(message: try await gateway.createCardToken(request.message, request.metadata))
    }
}
