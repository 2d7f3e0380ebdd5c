import NIOCore
import PostgresNIO

/// A write statement whose values travel as data in one `text[]` parameter: the SQL names a
/// value as `($1[k])::type`, so a writer's statements can be sent to the server together, as
/// one call of `payrail_writes` (see ``PostgresBatchSession``), or run alone with the array
/// bound as `$1`. Values are never spliced into the SQL text: the server casts each array
/// element to its column's type.
///
/// Written as a string literal with interpolated values, like `PostgresQuery`:
/// `"UPDATE payments SET status = \(status) WHERE id = \(id) RETURNING id"`.
struct PostgresWrite: ExpressibleByStringInterpolation, Sendable {
    private(set) var sql: String
    /// Each value's text form (nil: SQL NULL), in the order the SQL names them.
    private(set) var arguments: [String?]

    init() {
        sql = ""
        arguments = []
    }

    init(stringLiteral value: String) {
        sql = value
        arguments = []
    }

    init(stringInterpolation: StringInterpolation) {
        self = stringInterpolation.write
    }

    /// Appends SQL text.
    mutating func append(_ text: String) { sql += text }

    /// Adds a value and returns the expression that names it, cast to `type`.
    mutating func parameter(_ text: String?, as type: String) -> String {
        arguments.append(text)
        return "($1[\(arguments.count)])::\(type)"
    }

    /// The statement on its own, for a connection outside a batch.
    var query: PostgresQuery {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(TextArray(arguments))
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var write = PostgresWrite()

        init(literalCapacity: Int, interpolationCount: Int) {
            write.sql.reserveCapacity(literalCapacity + interpolationCount * 16)
            write.arguments.reserveCapacity(interpolationCount)
        }

        mutating func appendLiteral(_ literal: String) { write.sql += literal }

        mutating func appendInterpolation(_ value: String?) { add(value, "text") }
        mutating func appendInterpolation(_ value: Int64?) { add(value.map { String($0) }, "int8") }
        mutating func appendInterpolation(_ value: Int?) { add(value.map { String($0) }, "int8") }
        mutating func appendInterpolation(_ value: Bool?) { add(value.map { $0 ? "true" : "false" }, "bool") }
        /// bytea in its hex input form.
        mutating func appendInterpolation(_ value: ByteBuffer?) { add(value.map(PostgresWrite.byteaText), "bytea") }

        private mutating func add(_ text: String?, _ type: String) {
            write.sql += write.parameter(text, as: type)
        }
    }

    /// bytea in its hex input form (`\x...`), for a text value cast to bytea.
    static func byteaText(_ bytes: ByteBuffer) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + bytes.readableBytes * 2)
        for byte in bytes.readableBytesView {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A one-dimensional `text[]` whose elements may be NULL (postgres-nio's arrays cannot hold
/// optionals), in PostgreSQL's binary array format.
struct TextArray: PostgresEncodable, PostgresNonThrowingEncodable, Sendable {
    static var psqlType: PostgresDataType { .textArray }
    static var psqlFormat: PostgresFormat { .binary }

    let elements: [String?]

    init(_ elements: [String?]) { self.elements = elements }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)   // dimensions
        buffer.writeInteger(elements.contains(where: { $0 == nil }) ? 1 : 0, as: Int32.self)   // has nulls
        buffer.writeInteger(PostgresDataType.text.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count))
        buffer.writeInteger(1, as: Int32.self)   // lower bound
        for element in elements {
            guard let element else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(0, as: Int32.self)
            let length = buffer.writeString(element)
            buffer.setInteger(Int32(length), at: lengthIndex)
        }
    }
}
