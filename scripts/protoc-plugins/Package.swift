// swift-tools-version:6.0
// Builds the protoc plugins (protoc-gen-swift, protoc-gen-grpc-swift-2) from the mirrored
// packages. Kept separate from the main package so the plugins never slow down its builds.
import PackageDescription

let package = Package(
    name: "protoc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
    ]
)
