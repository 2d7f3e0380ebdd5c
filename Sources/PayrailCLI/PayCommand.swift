import ArgumentParser
import GRPCCore
import PayrailCluster
import PayrailProtos
import PayrailRuntime
import SwiftProtobuf

/// `payrail pay`: one real gRPC CreatePayment call through an edge over TLS, as a merchant's
/// SDK would make it; prints the payment (or the typed error).
struct PayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pay", abstract: "Create a payment through an edge (a real gRPC call).")

    @Option(help: "API key (sk_test_...).") var apiKey: String
    @Option(help: "Edge port.") var port = 50051
    @Option(help: "CA certificate that signed the edge's certificate.") var ca = ".payrail/tls/ca.pem"
    @Option(help: "Amount in minor units (cents).") var amount: Int64 = 1999
    @Option(help: "ISO 4217 currency.") var currency = "USD"
    @Option(help: "Card number (see docs/test-cards.md).") var card = "4242424242424242"
    @Option(help: "CVC.") var cvc = "123"
    @Flag(help: "Authorize only; capture later.") var manual = false
    @Option(help: "Idempotency key (a retry with the same key returns the same payment).") var idempotencyKey: String?

    func run() async throws {
        let client = try EdgeClient(port: port, caPath: ca, apiKey: apiKey)
        defer { Task { await client.close() } }
        let request = Payrail_V1_CreatePaymentRequest.with {
            $0.idempotencyKey = idempotencyKey ?? "cli-\(UnixClock.nowMs())"
            $0.amount = .with { $0.amountMinor = amount; $0.currency = currency }
            $0.captureMethod = manual ? .manual : .automatic
            $0.card = .with { $0.number = card; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = cvc }
        }
        do {
            let payment = try await client.payments.createPayment(request, metadata: client.metadata)
            print(try payment.jsonString(options: .init()))
        } catch let error as RPCError {
            let typed = RPCErrorMapping.payrailError(error)
            print("error: \(error.code) reason=\(typed.code.reason)\(typed.field.map { " field=\($0)" } ?? "") \(error.message)")
            await client.close()
            throw ExitCode.failure
        }
        await client.close()
    }
}
