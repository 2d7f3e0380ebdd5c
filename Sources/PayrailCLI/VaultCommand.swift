import ArgumentParser
import Foundation
import Logging
import PayrailCore
import PayrailDomain
import PayrailStore

/// `payrail vault`: key rotation and the detokenization log.
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault", abstract: "Card vault keys and access log.", subcommands: [Provision.self, RotateKey.self, Rewrap.self, AccessLog.self])

    struct StoreOptions: ParsableArguments {
        @Option(help: "Folder holding payrail.sqlite and the keyring.") var dataDir = ".payrail"
        @Option(help: "PostgreSQL URL instead of the SQLite file.") var postgres: String?
        @OptionGroup var vault: VaultLocationOptions

        /// The payments store (closed at once: only the vault is used) and the vault beside it.
        func openVault(logger: Logger) async throws -> (any PaymentStore, any VaultStore) {
            let opened = try await openStore(dataDir: dataDir, postgres: postgres, logger: logger)
            return (opened, try await openVaultStore(beside: opened, postgres: postgres, vault, logger: logger))
        }
    }

    struct Provision: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the vault's role and schema in a PostgreSQL database (as an administrator); prints the vault URL.")
        @Option(help: "Administrator URL of the payments database (a superuser or a role with CREATEROLE that owns it).")
        var admin: String
        @Option(help: "The vault's role.") var role = PostgresVaultStore.defaultRole
        @Option(help: "Environment variable holding the vault role's password (never a flag: it would show in ps).")
        var passwordEnv: String?
        func run() async throws {
            guard let location = PostgresStore.Location(url: admin) else {
                throw ValidationError("--admin must look like postgres://user[:password]@host[:port]/database")
            }
            var password: String?
            if let passwordEnv {
                guard let value = ProcessInfo.processInfo.environment[passwordEnv], !value.isEmpty else {
                    throw ValidationError("\(passwordEnv) is not set")
                }
                password = value
            }
            let vault = try await PostgresVaultStore.provision(admin: location, vaultRole: role, password: password)
            let store = try await PostgresVaultStore.open(vault)
            try await store.close()
            print("vault schema ready; the core connects with --vault-postgres postgres://\(vault.username)\(password == nil ? "" : ":<password>")@\(vault.host):\(vault.port)/\(vault.database)")
        }
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
            let (opened, vaultStore) = try await store.openVault(logger: logger)
            let vault = CardVault(keys: try FileKeyring(path: store.dataDir + "/keyring"), ids: .system)
            let moved = try await VaultRewrapper(store: vaultStore, vault: vault, logger: logger).runToCompletion()
            try await vaultStore.close()
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
            let (opened, vaultStore) = try await store.openVault(logger: Logger(label: "payrail.vault"))
            let entries = try await vaultStore.accesses(token: token, limit: limit)
            try await vaultStore.close()
            try await opened.close()
            for entry in entries {
                print("\(Date(timeIntervalSince1970: Double(entry.atMs) / 1000))  \(entry.actor)  \(entry.purpose)  (merchant \(entry.merchantID))")
            }
            if entries.isEmpty { print("no detokenization of \(token) recorded") }
        }
    }
}
