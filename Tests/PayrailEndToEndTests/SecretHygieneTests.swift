import AsyncHTTPClient
import Foundation
import Logging
import PayrailCluster
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import SQLiteNIO
import Synchronization
import Testing

/// The PCI scan: after payments with real-format card numbers (raw cards, tokens charged later,
/// declines, 3-D Secure, bad numbers, a fraud block, an erasure), no card number (no Luhn-valid
/// 13-19 digit run) and no CVC appears in logs, error messages, API responses, the Prometheus
/// metrics, or any database column outside the vault's ciphertext. (No dashboard exists yet.)
@Suite(.serialized) struct SecretHygieneTests {
    @Test func noPANOrCVCOutsideTheVault() async throws {
        let sink = LogSink()
        var logger = Logger(label: "payrail.test") { label in CapturingLogHandler(label: label, sink: sink) }
        logger.logLevel = .trace
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-pci-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = LocalCluster.Options(dataDirectory: directory)
        options.connector = CardNetworkSimulator(configuration: .instant)
        options.metricsPort = 0
        let cluster = try await LocalCluster.start(options, logger: logger)
        var observed: [String] = []
        do {
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "PCI")
            let client = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
            let cards = [TestCards.visaSuccess, TestCards.insufficientFunds, TestCards.threeDSRequired, TestCards.amexSuccess, "4000000000000010"]
            for (index, card) in cards.enumerated() {
                let payment = try await client.payments.createPayment(createRequest(key: "pci-\(index)", card: card), metadata: client.metadata)
                observed.append(try payment.jsonString())
                let token = try await client.tokens.createCardToken(.with {
                    $0.card = .with { $0.number = card; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = card.count == 15 ? "9876" : "987" }
                }, metadata: client.metadata)
                observed.append(try token.jsonString())
                // Charging the token later reads the PAN back (and logs the access).
                let charged = try await client.payments.createPayment(.with {
                    $0.idempotencyKey = "pci-token-\(index)"
                    $0.amount = .with { $0.amountMinor = 1_234; $0.currency = "USD" }
                    $0.cardToken = token.token
                    $0.riskContext = .with { $0.clientIp = "198.51.100.20"; $0.deviceID = "dev-pci" }
                }, metadata: client.metadata)
                observed.append(try charged.jsonString())
            }
            let erased = try await client.tokens.eraseCustomer(.with { $0.customerID = "cus_nobody" }, metadata: client.metadata)
            observed.append(try erased.jsonString())
            // The Prometheus scrape, as a monitoring system would see it.
            let metricsPort = try #require(cluster.metricsPort)
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics"),
                                                               timeout: .seconds(10))
            let metrics = String(buffer: try await response.body.collect(upTo: 4 << 20))
            #expect(metrics.contains("payrail_edge_requests_total"), "the scrape returned the edge's metrics")
            observed.append(metrics)
            // Errors about cards must not echo them either.
            for bad in ["4242424242424241", "42424242424242424242", "4242-4242-4242-4243"] {
                var request = createRequest(key: "pci-bad-\(bad)", card: bad)
                request.card.cvc = "987"
                if let failure = await rpcFailure({ _ = try await client.payments.createPayment(request, metadata: client.metadata) }) {
                    observed.append("\(failure)")
                }
                do { _ = try await client.payments.createPayment(request, metadata: client.metadata) } catch { observed.append("\(error)") }
            }
            await client.close()
        } catch {
            try await cluster.shutdown()
            throw error
        }
        try await cluster.shutdown()

        // The scanner itself must find what it is looking for.
        #expect(PANScanner.luhnValidRuns(in: "card 4242 4242 4242 4242 ok").contains("4242424242424242"))
        #expect(PANScanner.luhnValidRuns(in: "ts=1795574155879").isEmpty)
        #expect(PANScanner.luhnValidRuns(in: "pan=5555555555554444;").contains("5555555555554444"))
        #expect(PANScanner.luhnValidRuns(in: "fp af23714779593350cfe05a").isEmpty, "digits inside a hex digest")
        observed += sink.lines
        // The payments database holds no vault table at all: every value of it is scanned; the
        // vault's own file is scanned except its ciphertext columns.
        observed += try await databaseText(directory + "/payrail.sqlite", vault: false)
        observed += try await databaseText(directory + "/payrail.vault.sqlite", vault: true)
        #expect(!sink.lines.isEmpty, "the capturing logger saw nothing; the test would prove nothing")
        for text in observed {
            #expect(PANScanner.luhnValidRuns(in: text).isEmpty, "card number found in: \(text.prefix(200))")
            // A CVC would show up as a token of its own ("cvc":"987"); timestamps and hex ids
            // that merely contain those digits are longer alphanumeric tokens.
            let tokens = text.split { !$0.isLetter && !$0.isNumber }
            #expect(!tokens.contains("987") && !tokens.contains("9876"), "CVC found in: \(text.prefix(200))")
        }
    }

    /// Every text and blob value of every table except the vault's ciphertext columns.
    private func databaseText(_ path: String, vault: Bool) async throws -> [String] {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        var values: [String] = []
        let tables = try await connection.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.column("name")?.string }
        #expect(tables.contains("cards") == vault && tables.contains("payments") == !vault, "\(path): \(tables)")
        for table in tables {
            for row in try await connection.query("SELECT * FROM \(table)") {
                for column in row.columns where !(vault && table == "cards" && ["sealed_pan", "wrapped_data_key"].contains(column.name)) {
                    switch column.data {
                    case .text(let text): values.append(text)
                    case .blob(let buffer): values.append(String(decoding: buffer.readableBytesView, as: UTF8.self))
                    default: break
                    }
                }
            }
        }
        #expect(values.count > (vault ? 10 : 50))
        let columns = try await connection.query("SELECT name FROM pragma_table_info('cards') UNION SELECT name FROM pragma_table_info('payments')")
        #expect(!columns.compactMap { $0.column("name")?.string }.contains { $0.contains("cvc") || $0.contains("cvv") })
        try await connection.close()
        return values
    }
}

/// Finds card-number candidates: runs of 13–19 digits (spaces or dashes allowed between
/// digits) that pass Luhn and start in an issued IIN range (Visa, Mastercard, Amex, Discover,
/// JCB, UnionPay), as PCI scanners do, so millisecond timestamps (13 digits starting with 1)
/// are not mistaken for cards. A run glued to letters is part of an identifier or a hex digest
/// (a SHA-256 has a 13-digit stretch now and then) and is not a card number written out.
enum PANScanner {
    static func luhnValidRuns(in text: String) -> [String] {
        var found: [String] = []
        var digits = ""
        var gluedToLetter = false
        func flush() {
            if digits.count >= 13 && !gluedToLetter {
                for length in 13...min(19, digits.count) {
                    for start in 0...(digits.count - length) {
                        let candidate = String(digits.dropFirst(start).prefix(length))
                        if luhn(candidate) && CardBrand.detect(candidate) != .unknown { found.append(candidate) }
                    }
                }
            }
            digits = ""
            gluedToLetter = false
        }
        var previousWasSeparator = false
        var previousWasLetter = false
        for character in text {
            if character.isNumber, character.isASCII {
                if digits.isEmpty && previousWasLetter { gluedToLetter = true }
                digits.append(character)
                previousWasSeparator = false
                previousWasLetter = false
            } else if (character == " " || character == "-") && !digits.isEmpty && !previousWasSeparator {
                previousWasSeparator = true
                previousWasLetter = false
            } else {
                let isLetter = character.isLetter && character.isASCII
                if isLetter && !digits.isEmpty && !previousWasSeparator { gluedToLetter = true }
                flush()
                previousWasSeparator = false
                previousWasLetter = isLetter
            }
        }
        flush()
        return found
    }

    private static func luhn(_ digits: String) -> Bool {
        var sum = 0
        for (index, character) in digits.reversed().enumerated() {
            var digit = Int(String(character))!
            if index % 2 == 1 { digit *= 2; if digit > 9 { digit -= 9 } }
            sum += digit
        }
        return sum % 10 == 0
    }
}

final class LogSink: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var lines: [String] { storage.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = self.metadata.merging(explicit ?? [:]) { $1 }
        sink.append("\(level) \(label): \(message) \(all)")
    }
}
