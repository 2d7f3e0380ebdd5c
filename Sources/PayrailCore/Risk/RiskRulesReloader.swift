import Foundation
import PayrailDomain

/// Keeps the fraud rules in step with a file without a restart: ``reload()`` (on SIGHUP) reads
/// and parses the file again; a good file takes effect for the next payment, a bad one is
/// refused with its reason and the rules in force stay.
public final class RiskRulesReloader: Sendable {
    public let path: String
    private let risk: RiskService

    /// Loads the file now; throws (refusing to start) if it is bad.
    public init(path: String, risk: RiskService) throws {
        self.path = path
        self.risk = risk
        try reload()
    }

    public func reload() throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RiskPolicyParser.Failure(reason: "cannot read \(path): \(error.localizedDescription)")
        }
        risk.setPolicy(try RiskPolicyParser.parse(text))
    }
}
