import GRPCCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime

/// The webhook endpoints API. An endpoint belongs to a merchant and a mode: a test-mode key
/// neither sees nor changes live endpoints (they answer `resource_missing`).
extension CoreGRPCService {
    private func endpoint(_ id: String, _ caller: CallerContext) async throws -> WebhookEndpoint {
        let endpoint = try await webhookEndpoints.get(merchantID: caller.merchantID, id: id)
        guard endpoint.livemode == caller.livemode else { throw PayrailError(.resourceMissing, "no such webhook endpoint", field: "endpoint_id") }
        return endpoint
    }

    public func createWebhookEndpoint(request: Payrail_Internal_V1_CreateWebhookEndpointCall, context: ServerContext) async throws
        -> Payrail_V1_WebhookEndpoint {
        try await mapped("CreateWebhookEndpoint", request.context) {
            let caller = try caller(request.context)
            try RequestValidation.webhookEndpoint(url: request.request.url, eventTypes: request.request.eventTypes,
                                                  description: request.request.description_p)
            let created = try await webhookEndpoints.create(merchantID: caller.merchantID, livemode: caller.livemode, url: request.request.url,
                                                            eventTypes: request.request.eventTypes, description: request.request.description_p)
            return ProtoMapping.proto(created.endpoint, secret: created.secret)
        }
    }

    public func getWebhookEndpoint(request: Payrail_Internal_V1_GetWebhookEndpointCall, context: ServerContext) async throws
        -> Payrail_V1_WebhookEndpoint {
        try await mapped("GetWebhookEndpoint", request.context) {
            ProtoMapping.proto(try await endpoint(request.request.endpointID, try caller(request.context)))
        }
    }

    public func listWebhookEndpoints(request: Payrail_Internal_V1_ListWebhookEndpointsCall, context: ServerContext) async throws
        -> Payrail_V1_ListWebhookEndpointsResponse {
        try await mapped("ListWebhookEndpoints", request.context) {
            let caller = try caller(request.context)
            let endpoints = try await webhookEndpoints.list(merchantID: caller.merchantID).filter { $0.livemode == caller.livemode }
            return .with { $0.endpoints = endpoints.map { ProtoMapping.proto($0) } }
        }
    }

    public func updateWebhookEndpoint(request: Payrail_Internal_V1_UpdateWebhookEndpointCall, context: ServerContext) async throws
        -> Payrail_V1_WebhookEndpoint {
        try await mapped("UpdateWebhookEndpoint", request.context) {
            let caller = try caller(request.context)
            let update = request.request
            try RequestValidation.webhookEndpoint(url: update.hasURL ? update.url : nil, eventTypes: update.eventTypes,
                                                  description: update.hasDescription_p ? update.description_p : nil)
            _ = try await endpoint(update.endpointID, caller)
            return ProtoMapping.proto(try await webhookEndpoints.update(
                merchantID: caller.merchantID, id: update.endpointID, url: update.hasURL ? update.url : nil,
                eventTypes: update.eventTypes.isEmpty ? nil : update.eventTypes,
                description: update.hasDescription_p ? update.description_p : nil, enabled: update.hasEnabled ? update.enabled : nil))
        }
    }

    public func deleteWebhookEndpoint(request: Payrail_Internal_V1_DeleteWebhookEndpointCall, context: ServerContext) async throws
        -> Payrail_V1_DeleteWebhookEndpointResponse {
        try await mapped("DeleteWebhookEndpoint", request.context) {
            let caller = try caller(request.context)
            _ = try await endpoint(request.request.endpointID, caller)
            try await webhookEndpoints.delete(merchantID: caller.merchantID, id: request.request.endpointID)
            return .with { $0.endpointID = request.request.endpointID }
        }
    }

    public func rotateWebhookSecret(request: Payrail_Internal_V1_RotateWebhookSecretCall, context: ServerContext) async throws
        -> Payrail_V1_WebhookEndpoint {
        try await mapped("RotateWebhookSecret", request.context) {
            let caller = try caller(request.context)
            let overlapSeconds = request.request.hasOverlapSeconds ? request.request.overlapSeconds : 24 * 3_600
            guard (0...WebhookEndpointService.rotationOverlapMaxMs / 1000).contains(overlapSeconds) else {
                throw PayrailError(.invalidRequest, "overlap_seconds must be between 0 and 604800", field: "overlap_seconds")
            }
            _ = try await endpoint(request.request.endpointID, caller)
            let secret = try await webhookEndpoints.rotateSecret(merchantID: caller.merchantID, id: request.request.endpointID,
                                                                 overlapMs: overlapSeconds * 1000)
            return ProtoMapping.proto(try await endpoint(request.request.endpointID, caller), secret: secret)
        }
    }

    public func resendWebhookEvent(request: Payrail_Internal_V1_ResendWebhookEventCall, context: ServerContext) async throws
        -> Payrail_V1_WebhookDelivery {
        try await mapped("ResendWebhookEvent", request.context) {
            let caller = try caller(request.context)
            _ = try await endpoint(request.request.endpointID, caller)
            let delivery = try await webhookEndpoints.resend(merchantID: caller.merchantID, eventID: request.request.eventID,
                                                             endpointID: request.request.endpointID)
            return ProtoMapping.proto(delivery, attempts: [])
        }
    }

    public func listWebhookDeliveries(request: Payrail_Internal_V1_ListWebhookDeliveriesCall, context: ServerContext) async throws
        -> Payrail_V1_ListWebhookDeliveriesResponse {
        try await mapped("ListWebhookDeliveries", request.context) {
            let caller = try caller(request.context)
            let log = try await webhookEndpoints.deliveryLog(merchantID: caller.merchantID, eventID: request.request.eventID)
            return .with { $0.deliveries = log.map { ProtoMapping.proto($0.delivery, attempts: $0.attempts) } }
        }
    }
}
