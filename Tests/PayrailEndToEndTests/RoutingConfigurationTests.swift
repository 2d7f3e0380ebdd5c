import Testing
import PayrailCore
import PayrailDomain

/// The routing file: the shipped default, a full file, and refusals that say where and why.
@Suite struct RoutingConfigurationTests {
    @Test func theShippedDefaultHasTwoAcquirersThatFailOverToEachOther() {
        let configuration = RoutingConfiguration.default
        #expect(configuration.connectors.map(\.name) == ["acquirer-a", "acquirer-b", "bank-debits", "paylater", "paypal"])
        let usd = RoutingTable.RoutingInput(method: "card", currency: .usd, region: "us-east", brand: .visa)
        let eur = RoutingTable.RoutingInput(method: "card", currency: .eur, region: "eu-west", brand: .mastercard)
        #expect(configuration.table.route(for: usd)?.connectors == ["acquirer-a", "acquirer-b"])
        #expect(configuration.table.route(for: eur)?.connectors == ["acquirer-b", "acquirer-a"])
        let sepa = RoutingTable.RoutingInput(method: "sepa_debit", currency: .eur, region: "eu-west", brand: nil)
        #expect(configuration.table.route(for: sepa)?.connectors == ["bank-debits"], "debits before the European card route")
        let bnpl = RoutingTable.RoutingInput(method: "bnpl", currency: .usd, region: "us-east", brand: nil)
        #expect(configuration.table.route(for: bnpl)?.connectors == ["paylater"])
    }

    @Test func aFullFileParses() throws {
        let configuration = try RoutingConfiguration.parse("""
            version: 1
            connectors:
              - name: acquirer-a
                type: card_simulator
                latency_ms: { min: 5, max: 9, tail_per_mille: 0 }
                timeout_ms: 500
                faults_per_mille: { unavailable: 10, request_lost: 2, response_lost: 1 }
              - name: acquirer-b
                type: card_simulator
            retry: { attempts_per_connector: 4, backoff_base_ms: 10, backoff_max_ms: 100 }
            routes:
              - id: amex-apac
                brands: [amex]
                regions: [ap-south]
                connectors: [acquirer-b]
              - id: default
                connectors: [acquirer-a, acquirer-b]
            """)
        #expect(configuration.connectors[0].network.latencyMinMs == 5 && configuration.connectors[0].network.timeoutMs == 500)
        #expect(configuration.connectors[0].network.tailPerMille == 0 && configuration.connectors[1].network.tailPerMille == 10)
        #expect(configuration.connectors[0].network.unavailablePerMille == 10 && configuration.connectors[0].network.responseLossPerMille == 1)
        #expect(configuration.retry == ConnectorRetryPolicy(attemptsPerConnector: 4, backoffBaseMs: 10, backoffMaxMs: 100))
        let amex = RoutingTable.RoutingInput(method: "card", currency: .usd, region: "ap-south", brand: .amex)
        #expect(configuration.table.route(for: amex)?.id == "amex-apac")
    }

    @Test(arguments: [
        ("version: 2\nconnectors: []\nroutes: []", "version must be 1"),
        ("version: 1\nconnectors: [{name: A, type: card_simulator}]\nroutes: [{id: d, connectors: [A]}]", "lowercase"),
        ("version: 1\nconnectors: [{name: a, type: stripe}]\nroutes: [{id: d, connectors: [a]}]", "type must be one of"),
        ("version: 1\nconnectors: [{name: a, type: card_simulator}]\nroutes: [{id: x, methods: [cash], connectors: [a]}, {id: d, connectors: [a]}]", "unknown method cash"),
        ("version: 1\nconnectors: [{name: a, type: card_simulator}]\nroutes: [{id: d, connectors: [b]}]", "connector b is not defined"),
        ("version: 1\nconnectors: [{name: a, type: card_simulator}]\nroutes: [{id: d, currencies: [USD], connectors: [a]}]", "the last route must match every payment"),
        ("version: 1\nconnectors: [{name: a, type: card_simulator}]\nroutes: [{id: x, currencies: [XYZ], connectors: [a]}, {id: d, connectors: [a]}]", "unknown currency XYZ"),
        ("version: 1\nconnectors: [{name: a, type: card_simulator, colour: red}]\nroutes: [{id: d, connectors: [a]}]", "unknown key \"colour\""),
        ("version: 1\nconnectors: [{name: a, type: card_simulator}]\nretry: {attempts_per_connector: 0}\nroutes: [{id: d, connectors: [a]}]", "attempts_per_connector must be"),
        ("version: 1\nconnectors: [{name: a, type: card_simulator}]\nroutes: [{id: d, connectors: [a, a]}]", "listed twice"),
        ("version: 1\nconnectors: [{name: a, type: card_simulator, latency_ms: {tail_per_mille: 1001}}]\nroutes: [{id: d, connectors: [a]}]", "latency_ms.tail_per_mille"),
    ])
    func badFilesAreRefusedWithTheReason(_ text: String, _ reason: String) {
        do {
            _ = try RoutingConfiguration.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.reason.contains(reason), "\(error.reason)")
        }
    }
}
