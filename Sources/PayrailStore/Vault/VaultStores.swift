import Logging

/// Opens the vault that goes with a payments store.
public enum VaultStores {
    /// Where the vault lives and how a region reads it.
    public struct Locations: Sendable {
        /// The vault's primary with the vault role's credentials. Nil on PostgreSQL: the payments
        /// location is used as an administrator once, to provision the `vault` schema and role
        /// (``PostgresVaultStore/provision(admin:vaultRole:password:)``) and connect as that
        /// role: convenient for development, where the payments role may create roles.
        public var primary: PostgresStore.Location?
        /// The region's read replica (a streaming standby): card reads go there first.
        public var replica: PostgresStore.Location?
        public init(primary: PostgresStore.Location? = nil, replica: PostgresStore.Location? = nil) {
            self.primary = primary
            self.replica = replica
        }
    }

    /// The vault beside `store`: the attached vault file for SQLite; for PostgreSQL the `vault`
    /// schema through its own pool and credentials, with the region's replica if given.
    public static func open(beside store: any PaymentStore, postgres: PostgresStore.Location?, _ locations: Locations = .init(),
                            connections: PostgresConnectionPolicy = .keptOpen,
                            logger: Logger = Logger(label: "payrail.vault")) async throws -> any VaultStore {
        if let sqlite = store as? SQLiteStore { return sqlite.vault }
        guard let postgres else { throw StoreError.database("a PostgreSQL payments store needs its location to find the vault") }
        var primaryLocation: PostgresStore.Location
        if let given = locations.primary { primaryLocation = given } else {
            primaryLocation = try await PostgresVaultStore.provision(admin: postgres, logger: logger)
        }
        let primary = try await PostgresVaultStore.open(primaryLocation, connections: connections, logger: logger)
        guard let replicaLocation = locations.replica else { return primary }
        return RegionalVaultStore(primary: primary,
                                  replica: try await PostgresVaultStore.openReplica(replicaLocation, connections: connections, logger: logger))
    }
}
