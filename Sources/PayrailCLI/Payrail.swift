import ArgumentParser

/// `payrail`: one executable for every role, in the convention of `cockroach start` or
/// `vault server`.
@main
struct Payrail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payrail",
        abstract: "Payrail payment platform",
        subcommands: [DevCommand.self, CoreCommand.self, EdgeCommand.self, EdgeConfigCommand.self, PayCommand.self, LedgerCommand.self, MerchantCommand.self, FXCommand.self, WebhooksCommand.self, TrafficCommand.self, VaultCommand.self, BenchCommand.self, LoadCommand.self, EchoCommand.self])
}
