import GRPCCore
import Logging
import PayrailDomain
import PayrailProtos
import PayrailRuntime

/// `payrail.internal.v1.TrafficControl` over mutual TLS: `payrail traffic` reads and changes
/// the plan through it, and edges watch it (registering their public address as they do).
public struct TrafficControlService: Payrail_Internal_V1_TrafficControl.SimpleServiceProtocol {
    /// The client certificate common name allowed to change traffic.
    public static let operatorName = "payrail-operator"
    private let plane: TrafficControlPlane
    private let logger: Logger

    public init(plane: TrafficControlPlane, logger: Logger) {
        self.plane = plane
        self.logger = logger
    }

    private func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PayrailError {
            throw RPCErrorMapping.rpcError(error)
        } catch let error as RPCError {
            throw error
        } catch {
            logger.error("traffic control failed", metadata: ["error_type": "\(type(of: error))"])
            throw RPCErrorMapping.rpcError(PayrailError(.internalError, "internal error"))
        }
    }

    public func getTraffic(request: Payrail_Internal_V1_GetTrafficRequest, context: ServerContext) async throws -> Payrail_Internal_V1_TrafficStatus {
        try await mapped {
            let plan = try await plane.plan()
            let edges = plane.snapshot?.edges ?? []
            let changes = try await plane.changes(limit: 10)
            return .with {
                $0.map = Self.regionMap(plan, edges: edges)
                $0.recentChanges = changes.map { Self.record($0) }
            }
        }
    }

    public func changeTraffic(request: Payrail_Internal_V1_ChangeTrafficRequest, context: ServerContext) async throws -> Payrail_Internal_V1_TrafficChangeRecord {
        try await mapped {
            // Edges hold certificates of the same CA; only an operator's may move traffic.
            let peer = PeerIdentity.commonName(context)
            guard peer == Self.operatorName else {
                throw PayrailError(PayrailError.Code("operator_certificate_required", .permissionDenied),
                                   "traffic changes need the operator's client certificate (\(Self.operatorName))")
            }
            let action: TrafficChange.Action
            switch request.action {
            case .shift(let shift): action = .shift(from: shift.from, to: shift.to, percent: Int(shift.percent))
            case .drain(let drain): action = .drain(region: drain.region)
            case .restore(let restore): action = .restore(region: restore.region.isEmpty ? nil : restore.region)
            case nil: throw PayrailError(.missingField, "say what to change: shift, drain or restore", field: "action")
            }
            let change = try await plane.change(action, actor: request.actor, reason: request.reason, expectedVersion: request.expectedVersion)
            return Self.record(change, edges: plane.snapshot?.edges ?? [])
        }
    }

    public func listTrafficChanges(request: Payrail_Internal_V1_ListTrafficChangesRequest, context: ServerContext) async throws -> Payrail_Internal_V1_ListTrafficChangesResponse {
        try await mapped {
            let changes = try await plane.changes(limit: request.limit <= 0 ? 50 : Int(request.limit))
            return .with { $0.changes = changes.map { Self.record($0) } }
        }
    }

    public func watchTraffic(request: Payrail_Internal_V1_WatchTrafficRequest, response: RPCWriter<Payrail_V1_RegionMap>,
                             context: ServerContext) async throws {
        let edge: TrafficControlPlane.EdgeRegistration?
        if request.edgeID.isEmpty {
            edge = nil
        } else {
            guard request.edgeID.utf8.count <= 64, request.address.utf8.count <= 300, TrafficPlan.isValidName(request.region) else {
                throw RPCErrorMapping.rpcError(PayrailError(.invalidRequest, "edge id, region or address malformed"))
            }
            edge = .init(edgeID: request.edgeID, region: request.region, address: request.address)
        }
        let snapshots = try await mapped { try await plane.watch(edge: edge) }
        if let edge, let plan = plane.snapshot?.plan, plan.region(edge.region) == nil {
            logger.warning("edge's region is not in the traffic plan; clients will not be sent to it",
                           metadata: ["edge": "\(edge.edgeID)", "region": "\(edge.region)", "plan_regions": "\(plan.regions.map(\.name))"])
        }
        logger.info("edge watching traffic", metadata: ["edge": "\(request.edgeID)", "region": "\(request.region)"])
        defer { logger.info("edge stopped watching traffic", metadata: ["edge": "\(request.edgeID)"]) }
        for await snapshot in snapshots {
            try await response.write(Self.regionMap(snapshot.plan, edges: snapshot.edges))
        }
    }

    // MARK: Mapping

    public static func regionMap(_ plan: TrafficPlan, edges: [TrafficControlPlane.EdgeRegistration]) -> Payrail_V1_RegionMap {
        .with { map in
            map.version = plan.version
            map.totalWeight = Int32(TrafficPlan.totalWeight)
            map.regions = plan.regions.map { region in
                .with {
                    $0.name = region.name
                    $0.weight = Int32(region.weight)
                    $0.baselineWeight = Int32(region.baseline)
                    $0.drained = region.drained
                    $0.edges = edges.filter { $0.region == region.name }.map { edge in
                        .with {
                            $0.id = edge.edgeID
                            $0.address = edge.address
                            $0.draining = region.drained
                        }
                    }
                }
            }
        }
    }

    static func record(_ change: TrafficChange, edges: [TrafficControlPlane.EdgeRegistration] = []) -> Payrail_Internal_V1_TrafficChangeRecord {
        .with {
            $0.version = change.plan.version
            $0.action = change.action.description
            $0.actor = change.actor
            $0.reason = change.reason
            $0.atMs = change.atMs
            $0.plan = regionMap(change.plan, edges: edges)
        }
    }
}
