import ArgumentParser
import Foundation
import Logging
import PayrailCore
import PayrailDomain
import PayrailStore

/// `payrail vault`: key rotation and the detokenization log.
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault", abstract: "Card vault keys and access log.", subcommands: [RotateKey.self, Rewrap.self, AccessLog.self])

    struct StoreOptions: ParsableArguments {
        @Option(help: "Folder holding payrail.sqlite and the keyring.") var dataDir = ".payrail"
        @Option(help: "PostgreSQL URL instead of the SQLite file.") var postgres: String?
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Add a new key-encryption key version; new cards use it at once, running cores rewrap old ones in the background.")
        @Option(help: "Folder holding the keyring.") var dataDir = ".payrail"
        func run() async throws {
            let version = try FileKeyring.rotate(path: dataDir + "/keyring")
            print("key-encryption key version \(version) added to \(dataDir)/keyring; running cores pick it up within 5 s "
                  + "and rewrap older cards (or run `payrail vault rewrap` now)")
        }
    }

    struct Rewrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rewrap every card under an older key-encryption key, now.")
        @OptionGroup var store: StoreOptions
        func run() async throws {
            let logger = Logger(label: "payrail.vault")
            let opened = try await openStore(dataDir: store.dataDir, postgres: store.postgres, logger: logger)
            let vault = CardVault(keys: try FileKeyring(path: store.dataDir + "/keyring"), ids: .system)
            let moved = try await VaultRewrapper(store: opened, vault: vault, logger: logger).runToCompletion()
            try await opened.close()
            print("\(moved) cards rewrapped to key-encryption key version \(vault.currentKeyVersion)")
        }
    }

    struct AccessLog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "access-log", abstract: "Who read a card's number, when and why.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Card token (tok_...).") var token: String
        @Option(help: "How many entries, newest first.") var limit = 50
        func run() async throws {
            let opened = try await openStore(dataDir: store.dataDir, postgres: store.postgres, logger: Logger(label: "payrail.vault"))
            let entries = try await opened.read { try await $0.vaultAccesses(token: token, limit: limit) }
            try await opened.close()
            for entry in entries {
                print("\(Date(timeIntervalSince1970: Double(entry.atMs) / 1000))  \(entry.actor)  \(entry.purpose)  (merchant \(entry.merchantID))")
            }
            if entries.isEmpty { print("no detokenization of \(token) recorded") }
        }
    }
}
