import PayrailDomain

/// How the processors a payment was tried at are kept in one text column: names joined by
/// commas (connector names are lowercase letters, digits and dashes; the routing parser checks).
enum ConnectorColumns {
    static func encode(_ connectors: [String]) -> String {
        connectors.joined(separator: ",")
    }

    static func decode(_ text: String) -> [String] {
        text.isEmpty ? [] : text.split(separator: ",").map(String.init)
    }
}
