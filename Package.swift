// swift-tools-version:6.1
// Payrail: a payment processing platform. Dependencies point inward: the domain core
// (PayrailDomain) imports nothing; adapters (store, simulators, gRPC edge and core) wrap it;
// one executable, `payrail`, assembles them.
import PackageDescription

let package = Package(
    name: "payrail",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "payrail", targets: ["PayrailCLI"]),
        .library(name: "PayrailDomain", targets: ["PayrailDomain"]),
        .library(name: "PayrailProtos", targets: ["PayrailProtos"]),
        .library(name: "PayrailSDK", targets: ["PayrailSDK"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // Money, currencies, cards, the payment state machine, ledger posting rules, the
        // connector port. No I/O and no dependencies.
        .target(name: "PayrailDomain"),

        // Code generated from Protos/ by scripts/generate-protos (committed, never built by a plugin).
        .target(
            name: "PayrailProtos",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),

        // The store port, its embedded SQLite implementation and the PostgreSQL one.
        .target(
            name: "PayrailStore",
            dependencies: [
                "PayrailDomain",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Simulated processors (card network) behind the domain's connector port.
        .target(name: "PayrailSimulators", dependencies: ["PayrailDomain"]),

        // What edge and core share: TLS material, gRPC server lifecycle, health, error mapping.
        .target(
            name: "PayrailRuntime",
            dependencies: [
                "PayrailDomain",
                "PayrailProtos",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // What merchants embed: the webhook signature verifier (and, later, API clients).
        .target(name: "PayrailSDK", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),

        // The ledger region: payment service, vault, webhook dispatcher, internal gRPC API.
        .target(
            name: "PayrailCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                "PayrailDomain",
                "PayrailSDK",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "PayrailProtos",
                "PayrailStore",
                "PayrailSimulators",
                "PayrailRuntime",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The regional edge gateway: authentication, validation, forwarding to the core.
        .target(
            name: "PayrailEdge",
            dependencies: [
                "PayrailDomain",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                "PayrailProtos",
                "PayrailRuntime",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // A whole system on one machine (core + edges over loopback TLS), for `payrail dev` and tests.
        .target(
            name: "PayrailCluster",
            dependencies: [
                "PayrailDomain",
                "PayrailProtos",
                "PayrailStore",
                "PayrailSimulators",
                "PayrailCore",
                "PayrailEdge",
                "PayrailRuntime",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The load tool (`payrail load`): scenarios, open and closed loops over many TLS
        // connections, HdrHistogram percentiles, reports; and the echo baseline server.
        .target(
            name: "PayrailLoad",
            dependencies: [
                "PayrailDomain",
                "PayrailProtos",
                "PayrailRuntime",
                "PayrailSimulators",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .executableTarget(
            name: "PayrailCLI",
            dependencies: [
                "PayrailDomain",
                "PayrailProtos",
                "PayrailStore",
                "PayrailCore",
                "PayrailEdge",
                "PayrailRuntime",
                "PayrailCluster",
                "PayrailSimulators",
                "PayrailLoad",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .testTarget(
            name: "PayrailDomainTests",
            dependencies: [
                "PayrailDomain",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "PayrailWebhookTests",
            dependencies: [
                "PayrailDomain",
                "PayrailSDK",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "PayrailStoreTests",
            dependencies: [
                "PayrailDomain",
                "PayrailStore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PayrailEndToEndTests",
            dependencies: [
                "PayrailDomain",
                "PayrailProtos",
                "PayrailStore",
                "PayrailCore",
                "PayrailEdge",
                "PayrailRuntime",
                "PayrailSimulators",
                "PayrailCluster",
                "PayrailSDK",
                "PayrailLoad",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ]
)

// Micro-benchmarks of the hot paths (ordo-one/benchmark, with allocation counts). Built only
// when PAYRAIL_BENCHMARKS is set, by scripts/benchmarks, so tests and CI never build them.
import class Foundation.ProcessInfo
if ProcessInfo.processInfo.environment["PAYRAIL_BENCHMARKS"] != nil {
    package.dependencies.append(.package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(.executableTarget(
        name: "PayrailBenchmarks",
        dependencies: [
            .product(name: "Benchmark", package: "benchmark"),
            "PayrailDomain", "PayrailProtos", "PayrailRuntime", "PayrailEdge", "PayrailCore", "PayrailSDK", "PayrailStore",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ],
        path: "loadtest/Benchmarks/PayrailBenchmarks",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ))
}
