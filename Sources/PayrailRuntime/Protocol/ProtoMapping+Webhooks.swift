import PayrailDomain
import PayrailProtos

extension ProtoMapping {
    /// An endpoint as the API returns it; `secret` only where the API shows it (create, rotate).
    public static func proto(_ endpoint: WebhookEndpoint, secret: String? = nil) -> Payrail_V1_WebhookEndpoint {
        .with {
            $0.id = endpoint.id
            $0.url = endpoint.url
            $0.eventTypes = endpoint.eventTypes
            $0.description_p = endpoint.description
            $0.status = endpoint.status == .enabled ? .enabled : .disabled
            $0.disabledReason = endpoint.disabledReason ?? ""
            $0.secret = secret ?? ""
            $0.livemode = endpoint.livemode
            $0.createdAtUnixMs = endpoint.createdAtMs
        }
    }

    public static func proto(_ delivery: WebhookDelivery, attempts: [WebhookAttempt]) -> Payrail_V1_WebhookDelivery {
        .with {
            $0.id = delivery.id
            $0.eventID = delivery.eventID
            $0.endpointID = delivery.endpointID
            $0.status = switch delivery.status {
            case .pending: .pending
            case .delivered: .delivered
            case .failed: .failed
            }
            $0.attempts = Int32(clamping: delivery.attempts)
            $0.nextAttemptAtUnixMs = delivery.status == .pending ? delivery.nextAttemptAtMs : 0
            $0.attemptLog = attempts.map { attempt in
                .with {
                    $0.attemptedAtUnixMs = attempt.attemptedAtMs
                    $0.httpStatus = Int32(clamping: attempt.httpStatus ?? 0)
                    $0.latencyMs = attempt.latencyMs
                    $0.error = attempt.error ?? ""
                    $0.responseExcerpt = attempt.responseExcerpt
                    $0.retryAtUnixMs = attempt.retryAtMs ?? 0
                }
            }
        }
    }
}
