import PayrailDomain
import PayrailProtos
import SwiftProtobuf

/// Domain values to and from the public protobuf messages.
public enum ProtoMapping {
    public static func proto(_ status: PaymentStatus) -> Payrail_V1_PaymentStatus {
        switch status {
        case .requiresAction: .requiresAction
        case .requiresCapture: .requiresCapture
        case .requiresReview: .requiresReview
        case .processing: .processing
        case .succeeded: .succeeded
        case .canceled: .canceled
        case .failed: .failed
        }
    }

    public static func domain(_ status: Payrail_V1_PaymentStatus) throws(PayrailError) -> PaymentStatus? {
        switch status {
        case .unspecified: return nil
        case .requiresAction: return .requiresAction
        case .requiresCapture: return .requiresCapture
        case .requiresReview: return .requiresReview
        case .processing: return .processing
        case .succeeded: return .succeeded
        case .canceled: return .canceled
        case .failed: return .failed
        case .UNRECOGNIZED: throw PayrailError(.invalidRequest, "unknown payment status", field: "status")
        }
    }

    public static func domain(_ method: Payrail_V1_CaptureMethod) throws(PayrailError) -> CaptureMethod {
        switch method {
        case .automatic: return .automatic
        case .manual: return .manual
        case .UNRECOGNIZED: throw PayrailError(.invalidRequest, "unknown capture method", field: "capture_method")
        }
    }

    public static func proto(_ money: Money) -> Payrail_V1_Money {
        .with {
            $0.amountMinor = money.amountMinor
            $0.currency = money.currency.code
        }
    }

    public static func proto(_ card: CardSummary) -> Payrail_V1_CardSummary {
        .with {
            $0.token = card.token
            $0.brand = card.brand.rawValue
            $0.last4 = card.last4
            $0.expMonth = UInt32(card.expMonth)
            $0.expYear = UInt32(card.expYear)
            $0.fingerprint = card.fingerprint
            $0.country = card.country
        }
    }

    public static func proto(_ failure: Failure) -> Payrail_V1_Failure {
        .with {
            $0.reason = failure.reason
            $0.declineCode = failure.declineCode?.rawValue ?? ""
            $0.message = failure.message
        }
    }

    public static func proto(_ payment: Payment) -> Payrail_V1_Payment {
        .with {
            $0.id = payment.id
            $0.status = proto(payment.status)
            $0.amount = proto(payment.amount)
            $0.amountCapturableMinor = payment.amountCapturableMinor
            $0.amountCapturedMinor = payment.amountCapturedMinor
            $0.amountRefundedMinor = payment.amountRefundedMinor
            $0.captureMethod = payment.captureMethod == .automatic ? .automatic : .manual
            if let card = payment.card { $0.card = proto(card) }
            $0.paymentMethod = .with { summary in
                summary.type = payment.method.kind
                switch payment.method {
                case .bankDebit(let account):
                    summary.bankLast4 = account.last4
                    summary.bankCode = account.bankCode
                case .bnpl(let plan):
                    summary.bnplProvider = plan.provider
                    summary.bnplInstallments = UInt32(plan.installments)
                case .redirectWallet(let provider):
                    summary.walletProvider = provider
                case .card, .wallet:
                    break
                }
            }
            if let failure = payment.failure { $0.failure = proto(failure) }
            if let challenge = payment.challenge {
                $0.nextAction = .with {
                    $0.type = challenge.redirectURL == nil ? "three_d_secure" : "redirect"
                    $0.challengeID = challenge.challengeID
                    $0.attemptsRemaining = UInt32(challenge.attemptsRemaining)
                    $0.redirectURL = challenge.redirectURL ?? ""
                }
            }
            $0.description_p = payment.description
            $0.metadata = payment.metadata
            $0.livemode = payment.livemode
            $0.createdAtUnixMs = payment.createdAtMs
            $0.updatedAtUnixMs = payment.updatedAtMs
            $0.connector = payment.connector
            if let settlement = payment.settlement {
                $0.settlement = .with {
                    $0.currency = settlement.currency.code
                    $0.rateScaled = settlement.rateScaled
                    $0.markupBasisPoints = Int32(settlement.markupBasisPoints)
                    $0.fxQuoteID = settlement.quoteID ?? ""
                }
            }
            if let risk = payment.risk {
                $0.risk = .with {
                    $0.action = risk.action.rawValue
                    $0.score = risk.score
                    $0.reasons = risk.reasons
                    $0.modelVersion = risk.modelVersion
                }
            }
        }
    }

    public static func proto(_ refund: Refund) -> Payrail_V1_Refund {
        .with {
            $0.id = refund.id
            $0.paymentID = refund.paymentID
            $0.amount = proto(refund.amount)
            switch refund.status {
            case .pending: $0.status = .pending
            case .succeeded: $0.status = .succeeded
            case .failed: $0.status = .failed
            }
            $0.reason = refund.reason
            if let failure = refund.failure { $0.failure = proto(failure) }
            $0.createdAtUnixMs = refund.createdAtMs
        }
    }

    public static func proto(_ plan: Plan) -> Payrail_V1_Plan {
        .with {
            $0.id = plan.id
            $0.name = plan.name
            $0.amount = proto(plan.amount)
            $0.intervalUnit = proto(plan.interval.unit)
            $0.intervalCount = UInt32(plan.interval.count)
            $0.trialDays = UInt32(plan.trialDays)
            $0.livemode = plan.livemode
        }
    }

    public static func proto(_ unit: BillingInterval.Unit) -> Payrail_V1_IntervalUnit {
        switch unit {
        case .day: .day
        case .week: .week
        case .month: .month
        case .year: .year
        }
    }

    public static func proto(_ subscription: Subscription) -> Payrail_V1_Subscription {
        .with {
            $0.id = subscription.id
            $0.planID = subscription.planID
            switch subscription.status {
            case .trialing: $0.status = .trialing
            case .active: $0.status = .active
            case .pastDue: $0.status = .pastDue
            case .canceled: $0.status = .canceled
            }
            $0.currentPeriodStartUnixMs = subscription.currentPeriodStartMs
            $0.currentPeriodEndUnixMs = subscription.currentPeriodEndMs
            $0.cancelAtPeriodEnd = subscription.cancelAtPeriodEnd
            $0.canceledAtUnixMs = subscription.canceledAtMs ?? 0
            $0.cardToken = subscription.cardToken
            $0.livemode = subscription.livemode
            $0.createdAtUnixMs = subscription.createdAtMs
        }
    }

    public static func proto(_ invoice: Invoice) -> Payrail_V1_Invoice {
        .with {
            $0.id = invoice.id
            $0.subscriptionID = invoice.subscriptionID
            $0.amount = proto(invoice.amount)
            switch invoice.status {
            case .open: $0.status = .open
            case .paid: $0.status = .paid
            case .uncollectible: $0.status = .uncollectible
            }
            $0.periodStartUnixMs = invoice.periodStartMs
            $0.periodEndUnixMs = invoice.periodEndMs
            $0.attempts = UInt32(invoice.attempts)
            $0.nextAttemptAtUnixMs = invoice.nextAttemptAtMs ?? 0
            $0.paymentID = invoice.paymentID ?? ""
        }
    }

    public static func proto(_ payout: Payout) -> Payrail_V1_Payout {
        .with {
            $0.id = payout.id
            $0.amount = proto(payout.amount)
            $0.fee = proto(payout.fee)
            $0.method = payout.method == .instant ? .instant : .standard
            switch payout.status {
            case .pending: $0.status = .pending
            case .inTransit: $0.status = .inTransit
            case .paid: $0.status = .paid
            case .failed: $0.status = .failed
            }
            switch payout.destination {
            case .bankAccount(_, let last4):
                $0.destinationType = "bank_account"
                $0.destinationLast4 = last4
            case .card(_, _, let last4):
                $0.destinationType = "card"
                $0.destinationLast4 = last4
            }
            $0.arrivalAtUnixMs = payout.arrivalAtMs ?? 0
            $0.failureCode = payout.failureCode ?? ""
            $0.livemode = payout.livemode
            $0.createdAtUnixMs = payout.createdAtMs
        }
    }

    public static func proto(_ dispute: Dispute) -> Payrail_V1_Dispute {
        .with {
            $0.id = dispute.id
            $0.paymentID = dispute.paymentID
            $0.amount = proto(dispute.amount)
            $0.fee = proto(dispute.fee)
            switch dispute.status {
            case .needsResponse: $0.status = .needsResponse
            case .underReview: $0.status = .underReview
            case .won: $0.status = .won
            case .lost: $0.status = .lost
            }
            $0.reason = dispute.reason
            $0.evidence = dispute.evidence
            $0.evidenceDueAtUnixMs = dispute.evidenceDueAtMs
            $0.livemode = dispute.livemode
            $0.createdAtUnixMs = dispute.createdAtMs
            $0.updatedAtUnixMs = dispute.updatedAtMs
        }
    }

    public static func proto(_ quote: FXQuote) -> Payrail_V1_FXQuote {
        .with {
            $0.id = quote.id
            $0.fromCurrency = quote.from.code
            $0.toCurrency = quote.to.code
            $0.rateScaled = quote.rateScaled
            $0.markupBasisPoints = Int32(quote.markupBasisPoints)
            $0.expiresAtUnixMs = quote.expiresAtMs
        }
    }

    /// Validates raw card fields from a request into domain types.
    public static func cardInput(_ card: Payrail_V1_CardDetails, today: CalendarMonth) throws(PayrailError) -> CardInput {
        try CardInput(number: card.number, expMonth: Int(card.expMonth), expYear: Int(card.expYear), cvc: card.cvc,
                      holderName: card.cardholderName, today: today)
    }

    /// Validates a create-payment request into a command. Shared by the edge (before
    /// forwarding) and the core.
    public static func createPaymentCommand(_ request: Payrail_V1_CreatePaymentRequest, today: CalendarMonth) throws(PayrailError) -> CreatePaymentCommand {
        let method: PaymentMethodInput?
        switch request.paymentMethod {
        case .card(let card): method = .card(try cardInput(card, today: today))
        case .cardToken(let token): method = .token(token)
        case .wallet(let wallet):
            let type: WalletType
            switch wallet.type {
            case .applePay: type = .applePay
            case .googlePay: type = .googlePay
            default: throw PayrailError(.invalidRequest, "wallet.type must be APPLE_PAY or GOOGLE_PAY", field: "wallet.type")
            }
            method = .wallet(try WalletInput(type: type, networkToken: wallet.networkToken, expMonth: Int(wallet.expMonth),
                                             expYear: Int(wallet.expYear), cryptogram: wallet.cryptogram, today: today))
        case .bankDebit(let debit):
            let scheme: BankDebitScheme
            switch debit.scheme {
            case .ach: scheme = .ach
            case .sepa: scheme = .sepa
            case .upi: scheme = .upi
            default: throw PayrailError(.invalidRequest, "bank_debit.scheme must be ACH, SEPA or UPI", field: "bank_debit.scheme")
            }
            method = .bankDebit(try BankDebitInput(scheme: scheme, routingNumber: debit.routingNumber, accountNumber: debit.accountNumber,
                                                   iban: debit.iban, vpa: debit.vpa, holderName: debit.accountHolderName))
        case .bnpl(let bnpl): method = .bnpl(installments: Int(bnpl.installments))
        case .paypal(let paypal): method = .paypal(returnURL: paypal.returnURL)
        case nil: method = nil
        }
        return try CreatePaymentCommand(
            idempotencyKey: request.idempotencyKey, amountMinor: request.amount.amountMinor, currencyCode: request.amount.currency,
            hasAmount: request.hasAmount, captureMethod: try domain(request.captureMethod), method: method,
            description: request.description_p, metadata: request.metadata, fxQuoteID: request.fxQuoteID,
            riskContext: request.hasRiskContext ? RiskContext(
                clientIP: request.riskContext.clientIp, deviceID: request.riskContext.deviceID,
                emailHash: request.riskContext.emailSha256, billingCountry: request.riskContext.billingCountry) : nil)
    }
}
