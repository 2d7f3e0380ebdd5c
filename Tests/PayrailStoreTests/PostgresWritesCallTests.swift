import Foundation
import Logging
import PostgresNIO
import Testing

/// `payrail_writes` and `payrail_batch_writes`, the calls PostgreSQL group-commit writers'
/// writes travel in, prepare each statement text once per session. Whichever way a statement
/// runs (prepared, or directly when it cannot be wrapped or the session holds too many), the
/// calls must answer as before: a writer's writes all apply or none do, a counted write that
/// touches no row is a PR409 conflict, and values arrive exactly as sent.
@Suite struct PostgresWritesCallTests {
    /// One `payrail_writes` call: its answer, nil when every write applied.
    private struct Writes {
        let connection: PostgresConnection

        func call(_ statements: [String], args: [String?], ends: [Int], oneRow: [String?]) async throws -> String? {
            func literal(_ value: String?) -> String {
                value.map { "$v$" + $0 + "$v$" } ?? "NULL"
            }
            let sql = """
                SELECT payrail_writes(ARRAY[\(statements.map(literal).joined(separator: ", "))]::TEXT[],
                                      ARRAY[\(args.map(literal).joined(separator: ", "))]::TEXT[],
                                      ARRAY[\(ends.map(String.init).joined(separator: ", "))]::INT[],
                                      ARRAY[\(oneRow.map(literal).joined(separator: ", "))]::TEXT[])
                """
            return try await rows(sql).first ?? nil
        }

        /// The first column of each row, as text.
        func rows(_ sql: String) async throws -> [String?] {
            var values: [String?] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test")) {
                values.append(try row.decode(String?.self))
            }
            return values
        }
    }

    private static let insert = "INSERT INTO writes_probe (id, v, note) VALUES (($1[1])::TEXT, ($1[2])::INT8, ($1[3])::TEXT)"
    private static let counted = "UPDATE writes_probe SET v = ($1[2])::INT8 WHERE id = ($1[1])::TEXT RETURNING id"

    @Test(.enabled(if: StoreKind.available.contains(.postgres)))
    func preparedWritesAnswerAsDirectOnesDid() async throws {
        try await StoreFixture.withPostgresSession { connection in
            let writes = Writes(connection: connection)
            _ = try await writes.rows("CREATE TABLE writes_probe (id TEXT PRIMARY KEY, v INT8 NOT NULL, note TEXT)")

            // The same two statements three times: the first call prepares them, the others reuse them.
            for round in 1...3 {
                let answer = try await writes.call([Self.insert, Self.counted], args: ["a\(round)", "1", nil, "a\(round)", "\(round * 10)"],
                                                   ends: [3, 5], oneRow: [nil, "a missing"])
                #expect(answer == nil)
            }
            #expect(try await writes.rows("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM writes_probe") == ["a1=10,a2=20,a3=30"])
            #expect(try await writes.rows("SELECT count(*)::TEXT FROM pg_prepared_statements WHERE name LIKE 'payrail_w_%'") == ["2"])

            // A counted write that touches no row is a conflict, and the call's earlier write goes with it.
            let missing = try await writes.call([Self.insert, Self.counted], args: ["b", "1", nil, "nobody", "5"], ends: [3, 5], oneRow: [nil, "b missing"])
            #expect(missing == "2 PR409 b missing")
            // A refused write (a duplicate key) is answered with its SQLSTATE.
            let duplicate = try await writes.call([Self.insert], args: ["a1", "1", nil], ends: [3], oneRow: [nil])
            #expect(duplicate?.hasPrefix("1 23505 ") == true)
            #expect(try await writes.rows("SELECT count(*)::TEXT FROM writes_probe WHERE id = 'b'") == ["0"])

            // Values that need quoting, and NULL against the text "NULL", arrive as sent.
            let awkward = #"quote ' double " back \ brace {x,y} comma, NULL"#
            #expect(try await writes.call([Self.insert], args: [awkward, "7", "NULL"], ends: [3], oneRow: [nil]) == nil)
            #expect(try await writes.call([Self.insert], args: ["c", "8", nil], ends: [3], oneRow: [nil]) == nil)
            #expect(try await writes.rows("SELECT note FROM writes_probe WHERE id = $v$\(awkward)$v$") == ["NULL"])
            #expect(try await writes.rows("SELECT (note IS NULL)::TEXT FROM writes_probe WHERE id = 'c'") == ["true"])

            // Counted statements that cannot be wrapped run directly and are still counted.
            let withClause = "WITH k AS (SELECT ($1[1])::TEXT AS id) UPDATE writes_probe SET v = 99 WHERE id = (SELECT id FROM k) RETURNING id"
            #expect(try await writes.call([withClause], args: ["a1"], ends: [1], oneRow: ["w"]) == nil)
            #expect(try await writes.call([withClause], args: ["nobody"], ends: [1], oneRow: ["w missing"]) == "1 PR409 w missing")
            let noReturning = "UPDATE writes_probe SET v = 98 WHERE id = ($1[1])::TEXT"
            #expect(try await writes.call([noReturning], args: ["a2"], ends: [1], oneRow: ["r"]) == nil)
            #expect(try await writes.call([noReturning], args: ["nobody"], ends: [1], oneRow: ["r missing"]) == "1 PR409 r missing")

            // A statement first prepared in a transaction that rolled back: the statement outlives
            // the rollback, the session's note of it does not, and the next call must still run it.
            let update = "UPDATE writes_probe SET note = ($1[2])::TEXT WHERE id = ($1[1])::TEXT"
            _ = try await writes.rows("BEGIN")
            #expect(try await writes.call([update], args: ["a3", "rolled back"], ends: [2], oneRow: [nil]) == nil)
            _ = try await writes.rows("ROLLBACK")
            #expect(try await writes.call([update], args: ["a3", "kept"], ends: [2], oneRow: [nil]) == nil)
            #expect(try await writes.rows("SELECT note FROM writes_probe WHERE id = 'a3'") == ["kept"])

            // Several writers in one call: each is a subtransaction of its own, and only the
            // failed ones are answered, numbered from 1.
            func literal(_ value: String?) -> String { value.map { "$v$" + $0 + "$v$" } ?? "NULL" }
            let batchAnswer = try await writes.rows("""
                SELECT failed_writer || ' ' || failure FROM payrail_batch_writes(
                    ARRAY[\([Self.insert, Self.insert, Self.counted, Self.insert].map(literal).joined(separator: ", "))]::TEXT[],
                    ARRAY['w1', '1', NULL, 'w2', '2', NULL, 'nobody', '3', 'w3', '3', NULL]::TEXT[],
                    ARRAY[3, 6, 8, 11]::INT[], ARRAY[NULL, NULL, 'w2 missing', NULL]::TEXT[], ARRAY[1, 3, 4]::INT[])
                """)
            #expect(batchAnswer == ["2 3 PR409 w2 missing"])
            #expect(try await writes.rows("SELECT string_agg(id, ',' ORDER BY id) FROM writes_probe WHERE id LIKE 'w_'") == ["w1,w3"])

            // A whole batch in one statement, outside any transaction: writer 2 fails, so its
            // balance change is left out; settled changes (writer 0) and writer 1's apply, one
            // row per account, added to what the account held.
            _ = try await writes.rows("ROLLBACK")
            _ = try await writes.rows("INSERT INTO account_balances (account, currency, balance_minor, entry_count) VALUES ('acc:b', 'USD', 100, 1)")
            let commitAnswer = try await writes.rows("""
                SELECT failed_writer || ' ' || failure FROM payrail_batch_commit(
                    ARRAY[\([Self.insert, Self.counted].map(literal).joined(separator: ", "))]::TEXT[],
                    ARRAY['c1', '1', NULL, 'nobody', '2']::TEXT[], ARRAY[3, 5]::INT[], ARRAY[NULL, 'c2 missing']::TEXT[], ARRAY[1, 2]::INT[],
                    ARRAY[0, 1, 1, 2, 2]::INT[], ARRAY['acc:a', 'acc:b', 'acc:a', 'acc:b', 'acc:c']::TEXT[],
                    ARRAY['USD', 'USD', 'USD', 'USD', 'USD']::TEXT[], ARRAY[5, -7, 11, 1000, 1000]::INT8[], ARRAY[1, 1, 2, 1, 1]::INT8[])
                """)
            #expect(commitAnswer == ["2 2 PR409 c2 missing"])
            #expect(try await writes.rows("SELECT string_agg(id, ',') FROM writes_probe WHERE id LIKE 'c_'") == ["c1"])
            #expect(try await writes.rows("SELECT string_agg(account || '=' || balance_minor || '/' || entry_count, ',' ORDER BY account) FROM account_balances")
                    == ["acc:a=16/3,acc:b=93/2"])

            // More distinct texts than a session prepares: the rest run directly, and all apply.
            for index in 0..<300 {
                let distinct = "INSERT INTO writes_probe (id, v) VALUES (($1[1])::TEXT, \(index))"
                #expect(try await writes.call([distinct], args: ["many\(index)"], ends: [1], oneRow: [nil]) == nil)
            }
            #expect(try await writes.rows("SELECT count(*)::TEXT FROM writes_probe WHERE id LIKE 'many%'") == ["300"])
            #expect(try await writes.rows("SELECT count(*)::TEXT FROM pg_prepared_statements WHERE name LIKE 'payrail_w_%'") == ["256"])
        }
    }
}
