import Foundation
import GRPCCore
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators

/// Starts a whole cluster (core + edge over loopback TLS, SQLite in a temporary folder) for
/// one test, and stops it afterwards whatever happens.
func withCluster(edges: Int = 1, _ body: (LocalCluster, EdgeClient, CardNetworkSimulator, String) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-e2e-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let network = CardNetworkSimulator(configuration: .init(latencyMinMs: 1, latencyMaxMs: 3, tailPerMille: 0, tailMultiplier: 1, timeoutMs: 300))
    var options = LocalCluster.Options(dataDirectory: directory)
    options.edgeCount = edges
    options.connector = network
    let cluster = try await LocalCluster.start(options)
    do {
        let merchant = try await cluster.core.apiKeys.createMerchant(name: "Test Merchant")
        let client = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
        do {
            try await body(cluster, client, network, merchant.merchantID)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    } catch {
        try await cluster.shutdown()
        throw error
    }
    try await cluster.shutdown()
}

func createRequest(key: String, amount: Int64 = 10_000, currency: String = "USD", card: String = TestCards.visaSuccess,
                   capture: Payrail_V1_CaptureMethod = .automatic) -> Payrail_V1_CreatePaymentRequest {
    .with {
        $0.idempotencyKey = key
        $0.amount = .with { $0.amountMinor = amount; $0.currency = currency }
        $0.captureMethod = capture
        $0.card = .with { $0.number = card; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = card.count == 15 ? "1234" : "123" }
        $0.metadata = ["order": key]
    }
}

/// The typed error of a failed call: (gRPC code, Payrail reason).
func rpcFailure(_ body: () async throws -> Void) async -> (RPCError.Code, String)? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return (error.code, RPCErrorMapping.payrailError(error).code.reason)
    } catch {
        return (.unknown, "\(type(of: error))")
    }
}
