import ArgumentParser
import Foundation
import PayrailCore
import PayrailDomain
import PayrailStore

/// `payrail bench vault`: tokenize (seal: data key, AES-256-GCM, wrap under the KEK, HMAC
/// fingerprint) and detokenize (unwrap, open) throughput on one core, without the store.
struct VaultBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vault", abstract: "Tokenize and detokenize throughput per core.")

    @Option(help: "Operations per phase.") var iterations = 200_000

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-vault-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let vault = CardVault(keys: try FileKeyring(path: directory + "/keyring"), ids: .system)
        let card = try CardInput(number: "4242424242424242", expMonth: 12, expYear: 2034, cvc: "", holderName: "",
                                 today: CalendarMonth(unixMillis: Int64(Date().timeIntervalSince1970 * 1000)))
        let clock = ContinuousClock()
        var records: [VaultedCardRecordBox] = []
        records.reserveCapacity(1_000)
        let sealStart = clock.now
        for index in 0..<iterations {
            let record = try vault.seal(card, merchantID: "acct_bench", nowMs: Int64(index))
            if index < 1_000 { records.append(VaultedCardRecordBox(record: record)) }
        }
        let sealElapsed = clock.now - sealStart
        let openStart = clock.now
        var digits = 0
        for index in 0..<iterations { digits &+= try vault.reveal(records[index % records.count].record).last4.count }
        let openElapsed = clock.now - openStart
        func rate(_ elapsed: Duration) -> String {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return String(format: "%.0f/s (%.2f µs each)", Double(iterations) / seconds, seconds / Double(iterations) * 1e6)
        }
        print("vault on one core, \(iterations) operations per phase:")
        print("  tokenize   (seal + wrap + fingerprint): \(rate(sealElapsed))")
        print("  detokenize (unwrap + open):             \(rate(openElapsed))  [\(digits / iterations) digits checked]")
    }
}

private struct VaultedCardRecordBox {
    let record: PayrailStore.VaultedCardRecord
}
