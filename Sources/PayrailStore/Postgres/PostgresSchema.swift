/// The PostgreSQL store's schema, as ordered migrations, each applied once in its own
/// transaction under an advisory lock (several core nodes may start at once).
enum PostgresSchema {
    static let migrations: [String] = [
        """
        CREATE TABLE merchants (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL
        );
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL REFERENCES merchants(id),
            secret_sha256 BYTEA NOT NULL CHECK (length(secret_sha256) = 32),
            livemode BOOLEAN NOT NULL,
            created_at_ms BIGINT NOT NULL,
            revoked_at_ms BIGINT
        );
        CREATE TABLE idempotency_keys (
            merchant_id TEXT NOT NULL,
            key TEXT NOT NULL,
            operation TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
            locked_until_ms BIGINT NOT NULL,
            resource_id TEXT,
            response BYTEA,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            PRIMARY KEY (merchant_id, key),
            CHECK (state = 'in_progress' OR response IS NOT NULL)
        );
        CREATE TABLE vault_cards (
            token TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            brand TEXT NOT NULL,
            last4 TEXT NOT NULL CHECK (length(last4) = 4),
            exp_month INTEGER NOT NULL,
            exp_year INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            country TEXT NOT NULL,
            sealed_pan BYTEA NOT NULL,
            wrapped_data_key BYTEA NOT NULL,
            key_version INTEGER NOT NULL,
            created_at_ms BIGINT NOT NULL
        );
        CREATE TABLE payments (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            status TEXT NOT NULL,
            amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            capture_method TEXT NOT NULL,
            amount_capturable_minor BIGINT NOT NULL,
            amount_captured_minor BIGINT NOT NULL,
            amount_refunded_minor BIGINT NOT NULL,
            amount_refund_pending_minor BIGINT NOT NULL,
            card_token TEXT NOT NULL,
            card_brand TEXT NOT NULL,
            card_last4 TEXT NOT NULL,
            card_exp_month INTEGER NOT NULL,
            card_exp_year INTEGER NOT NULL,
            card_fingerprint TEXT NOT NULL,
            card_country TEXT NOT NULL,
            connector TEXT NOT NULL,
            processor_reference TEXT,
            failure_reason TEXT,
            failure_decline_code TEXT,
            failure_message TEXT,
            challenge_id TEXT,
            challenge_attempts_remaining INTEGER,
            description TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            version BIGINT NOT NULL,
            CHECK (amount_captured_minor + amount_capturable_minor <= amount_minor),
            CHECK (amount_refunded_minor + amount_refund_pending_minor <= amount_captured_minor)
        );
        CREATE INDEX payments_by_merchant ON payments (merchant_id, livemode, created_at_ms DESC, id DESC);
        CREATE TABLE payment_metadata (
            payment_id TEXT NOT NULL REFERENCES payments(id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (payment_id, key)
        );
        CREATE TABLE payment_locks (
            payment_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            locked_until_ms BIGINT NOT NULL
        );
        CREATE TABLE refunds (
            id TEXT PRIMARY KEY,
            payment_id TEXT NOT NULL REFERENCES payments(id),
            merchant_id TEXT NOT NULL,
            amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            failure_reason TEXT,
            failure_decline_code TEXT,
            failure_message TEXT,
            processor_reference TEXT,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL
        );
        CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at_ms);
        CREATE TABLE ledger_transactions (
            seq BIGSERIAL PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            payment_id TEXT NOT NULL,
            refund_id TEXT,
            created_at_ms BIGINT NOT NULL
        );
        CREATE INDEX ledger_transactions_by_payment ON ledger_transactions (payment_id);
        CREATE TABLE ledger_entries (
            id BIGSERIAL PRIMARY KEY,
            transaction_id TEXT NOT NULL REFERENCES ledger_transactions(id),
            account TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount_minor BIGINT NOT NULL CHECK (amount_minor <> 0)
        );
        CREATE INDEX ledger_entries_by_transaction ON ledger_entries (transaction_id);
        CREATE INDEX ledger_entries_by_account ON ledger_entries (account);
        CREATE FUNCTION payrail_ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
        END
        $$;
        CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
            FOR EACH ROW EXECUTE FUNCTION payrail_ledger_is_append_only();
        CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
            FOR EACH STATEMENT EXECUTE FUNCTION payrail_ledger_is_append_only();
        CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
            FOR EACH ROW EXECUTE FUNCTION payrail_ledger_is_append_only();
        CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
            FOR EACH STATEMENT EXECUTE FUNCTION payrail_ledger_is_append_only();
        """,
        """
        CREATE TABLE outbox_events (
            seq BIGSERIAL PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            resource_id TEXT NOT NULL,
            payload BYTEA NOT NULL,
            created_at_ms BIGINT NOT NULL
        );
        CREATE INDEX outbox_events_by_resource ON outbox_events (resource_id, seq);
        """,
        """
        ALTER TABLE ledger_transactions RENAME COLUMN payment_id TO resource_id;
        """,
        """
        CREATE TABLE account_balances (
            account TEXT PRIMARY KEY,
            currency TEXT NOT NULL,
            balance_minor BIGINT NOT NULL,
            entry_count BIGINT NOT NULL
        );
        INSERT INTO account_balances (account, currency, balance_minor, entry_count)
            SELECT account, currency, SUM(amount_minor), COUNT(*) FROM ledger_entries GROUP BY account, currency;
        """,
        """
        CREATE TABLE fx_rates (
            id BIGSERIAL PRIMARY KEY,
            from_currency TEXT NOT NULL,
            to_currency TEXT NOT NULL,
            rate_scaled BIGINT NOT NULL CHECK (rate_scaled > 0),
            source TEXT NOT NULL,
            valid_from_ms BIGINT NOT NULL,
            valid_until_ms BIGINT NOT NULL,
            CHECK (valid_until_ms > valid_from_ms),
            CHECK (from_currency <> to_currency)
        );
        CREATE INDEX fx_rates_by_pair ON fx_rates (from_currency, to_currency, valid_from_ms);
        CREATE TABLE fx_quotes (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            from_currency TEXT NOT NULL,
            to_currency TEXT NOT NULL,
            rate_scaled BIGINT NOT NULL CHECK (rate_scaled > 0),
            markup_bps INTEGER NOT NULL,
            source TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            expires_at_ms BIGINT NOT NULL
        );
        ALTER TABLE merchants ADD COLUMN settlement_currency TEXT;
        ALTER TABLE payments ADD COLUMN settlement_currency TEXT;
        ALTER TABLE payments ADD COLUMN fx_rate_scaled BIGINT;
        ALTER TABLE payments ADD COLUMN fx_markup_bps INTEGER;
        ALTER TABLE payments ADD COLUMN fx_quote_id TEXT;
        """,
        """
        CREATE TABLE balance_journal (
            seq BIGSERIAL PRIMARY KEY,
            account TEXT NOT NULL,
            currency TEXT NOT NULL,
            delta_minor BIGINT NOT NULL,
            entry_count BIGINT NOT NULL
        );
        CREATE INDEX balance_journal_by_account ON balance_journal (account);
        """,
        """
        CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            url TEXT NOT NULL,
            event_types TEXT NOT NULL,
            description TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
            disabled_reason TEXT,
            secrets TEXT NOT NULL,
            failing_since_ms BIGINT,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL
        );
        CREATE INDEX webhook_endpoints_by_merchant ON webhook_endpoints (merchant_id);
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL,
            endpoint_id TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            next_attempt_at_ms BIGINT NOT NULL,
            leased_until_ms BIGINT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            UNIQUE (event_id, endpoint_id)
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at_ms) WHERE status = 'pending';
        CREATE TABLE webhook_attempts (
            id BIGSERIAL PRIMARY KEY,
            delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
            attempted_at_ms BIGINT NOT NULL,
            http_status INTEGER,
            latency_ms BIGINT NOT NULL,
            error TEXT,
            response_excerpt TEXT NOT NULL,
            retry_at_ms BIGINT
        );
        CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
        ALTER TABLE outbox_events ADD COLUMN fanned_out_at_ms BIGINT;
        CREATE INDEX outbox_events_awaiting_fan_out ON outbox_events (seq) WHERE fanned_out_at_ms IS NULL;
        """,
        """
        CREATE TABLE traffic_changes (
            version BIGINT PRIMARY KEY,
            plan TEXT NOT NULL,
            action TEXT NOT NULL,
            arguments TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL,
            at_ms BIGINT NOT NULL
        );
        CREATE FUNCTION payrail_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
        END
        $$;
        CREATE TRIGGER traffic_changes_append_only BEFORE UPDATE OR DELETE ON traffic_changes
            FOR EACH ROW EXECUTE FUNCTION payrail_audit_is_append_only();
        CREATE TRIGGER traffic_changes_no_truncate BEFORE TRUNCATE ON traffic_changes
            FOR EACH STATEMENT EXECUTE FUNCTION payrail_audit_is_append_only();
        """,
        """
        ALTER TABLE payments ADD COLUMN risk TEXT;
        ALTER TABLE payments ADD COLUMN risk_context TEXT;
        CREATE INDEX payments_by_created_at ON payments (created_at_ms);
        CREATE TABLE risk_list_entries (
            merchant_id TEXT NOT NULL,
            list TEXT NOT NULL CHECK (list IN ('block', 'allow')),
            kind TEXT NOT NULL CHECK (kind IN ('card', 'ip', 'device', 'email')),
            value TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            PRIMARY KEY (merchant_id, list, kind, value)
        );
        """,
        """
        ALTER TABLE vault_cards ADD COLUMN customer_ref TEXT;
        ALTER TABLE vault_cards ADD COLUMN erased_at_ms BIGINT;
        CREATE INDEX vault_cards_by_key_version ON vault_cards (key_version);
        CREATE INDEX vault_cards_by_customer ON vault_cards (merchant_id, customer_ref);
        CREATE TABLE vault_access_log (
            id BIGSERIAL PRIMARY KEY,
            token TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            purpose TEXT NOT NULL,
            at_ms BIGINT NOT NULL
        );
        CREATE INDEX vault_access_log_by_token ON vault_access_log (token, id);
        CREATE TRIGGER vault_access_log_append_only BEFORE UPDATE OR DELETE ON vault_access_log
            FOR EACH ROW EXECUTE FUNCTION payrail_audit_is_append_only();
        CREATE TRIGGER vault_access_log_no_truncate BEFORE TRUNCATE ON vault_access_log
            FOR EACH STATEMENT EXECUTE FUNCTION payrail_audit_is_append_only();
        """,
        // 11: the vault moved to the `vault` schema, owned by its own role (PostgresVaultStore);
        // the payments role cannot write there, so the pre-release tables are dropped, not copied.
        """
        DROP TABLE vault_access_log;
        DROP TABLE vault_cards;
        """,
        // 12: routing with failover (the processors a payment was tried at before its current
        // one) and the reconciliation job's work list (payments stuck in `processing`).
        """
        ALTER TABLE payments ADD COLUMN connectors_tried TEXT NOT NULL DEFAULT '';
        CREATE INDEX payments_by_status_updated ON payments (status, updated_at_ms);
        CREATE INDEX idempotency_keys_by_resource ON idempotency_keys (resource_id);
        """,
        // 13: chargebacks reported by the processors (one row per network dispute).
        """
        CREATE TABLE disputes (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            payment_id TEXT NOT NULL REFERENCES payments(id),
            connector TEXT NOT NULL,
            network_dispute_id TEXT NOT NULL,
            amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
            fee_minor BIGINT NOT NULL CHECK (fee_minor >= 0),
            currency TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won', 'lost')),
            evidence TEXT NOT NULL,
            evidence_due_at_ms BIGINT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            version BIGINT NOT NULL,
            UNIQUE (connector, network_dispute_id)
        );
        CREATE INDEX disputes_by_merchant ON disputes (merchant_id, livemode, created_at_ms DESC, id DESC);
        CREATE INDEX disputes_by_payment ON disputes (payment_id);
        """,
        // 14: payouts to the merchants' banks and cards.
        """
        CREATE TABLE payouts (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
            fee_minor BIGINT NOT NULL CHECK (fee_minor >= 0),
            currency TEXT NOT NULL,
            method TEXT NOT NULL CHECK (method IN ('standard', 'instant')),
            destination_kind TEXT NOT NULL CHECK (destination_kind IN ('bank_account', 'card')),
            routing_number TEXT,
            last4 TEXT NOT NULL,
            card_token TEXT,
            card_brand TEXT,
            status TEXT NOT NULL CHECK (status IN ('pending', 'in_transit', 'paid', 'failed')),
            bank_reference TEXT,
            arrival_at_ms BIGINT,
            failure_code TEXT,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            version BIGINT NOT NULL
        );
        CREATE INDEX payouts_by_merchant ON payouts (merchant_id, livemode, created_at_ms DESC, id DESC);
        CREATE INDEX payouts_by_status ON payouts (status, created_at_ms);
        -- One row per merchant balance that pays out: creating a payout locks it, so two
        -- payouts never both spend the same funds (the check and the debit are serialized).
        CREATE TABLE payout_guards (
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            currency TEXT NOT NULL,
            payouts BIGINT NOT NULL,
            PRIMARY KEY (merchant_id, livemode, currency)
        );
        """,
        // 15: payment methods beyond cards (wallets, bank debits, BNPL); the card columns
        // are empty for methods without a card.
        """
        ALTER TABLE payments ADD COLUMN method_kind TEXT NOT NULL DEFAULT 'card';
        ALTER TABLE payments ADD COLUMN method_details TEXT;
        """,
        // 16: subscriptions: plans, subscriptions and their invoices.
        """
        CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            name TEXT NOT NULL,
            amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            interval_unit TEXT NOT NULL CHECK (interval_unit IN ('day', 'week', 'month', 'year')),
            interval_count BIGINT NOT NULL CHECK (interval_count > 0),
            trial_days BIGINT NOT NULL CHECK (trial_days >= 0),
            created_at_ms BIGINT NOT NULL
        );
        CREATE TABLE subscriptions (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            plan_id TEXT NOT NULL REFERENCES plans(id),
            card_token TEXT NOT NULL,
            anchor_day BIGINT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
            current_period_start_ms BIGINT NOT NULL,
            current_period_end_ms BIGINT NOT NULL,
            cancel_at_period_end BOOLEAN NOT NULL,
            canceled_at_ms BIGINT,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            version BIGINT NOT NULL
        );
        CREATE INDEX subscriptions_due ON subscriptions (status, current_period_end_ms);
        CREATE TABLE invoices (
            id TEXT PRIMARY KEY,
            subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
            merchant_id TEXT NOT NULL,
            livemode BOOLEAN NOT NULL,
            amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            period_start_ms BIGINT NOT NULL,
            period_end_ms BIGINT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'uncollectible')),
            attempts BIGINT NOT NULL,
            next_attempt_at_ms BIGINT,
            payment_id TEXT,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            version BIGINT NOT NULL,
            UNIQUE (subscription_id, period_start_ms)
        );
        CREATE INDEX invoices_due ON invoices (status, next_attempt_at_ms);
        """,
        // 17: redirect-and-approve wallets (PayPal style): where the buyer approves.
        """
        ALTER TABLE payments ADD COLUMN challenge_redirect_url TEXT;
        """,
        // 18: a dispute's fee in the settlement currency when the payment settled through FX.
        """
        ALTER TABLE disputes ADD COLUMN fee_currency TEXT;
        """,
        // 19: no query reads ledger entries by account (balances live in account_balances, the
        // verifier scans the whole table), and the index cost every posting an insert in the
        // middle of the hot merchant account's range.
        """
        DROP INDEX IF EXISTS ledger_entries_by_account;
        """,
        // 20: a group-commit writer's statements in one round trip (PostgresBatchSession): run in
        // order, each with its own slice of `args` as $1; a statement with a `one_row` message
        // must touch exactly one row. The exception block makes the call a subtransaction: on
        // any failure nothing of it stays and the call answers "<statement> <SQLSTATE>
        // <message>" instead of aborting the batch's transaction. SECURITY INVOKER (the
        // default): it can do nothing its caller could not.
        """
        CREATE FUNCTION payrail_writes(statements TEXT[], args TEXT[], arg_ends INT[], one_row TEXT[]) RETURNS TEXT
        LANGUAGE plpgsql AS $$
        DECLARE
            n INT := 0;
            first INT := 1;
            touched BIGINT;
        BEGIN
            WHILE n < coalesce(array_length(statements, 1), 0) LOOP
                n := n + 1;
                EXECUTE statements[n] USING args[first : arg_ends[n]];
                IF one_row[n] IS NOT NULL THEN
                    GET DIAGNOSTICS touched = ROW_COUNT;
                    IF touched <> 1 THEN
                        RAISE EXCEPTION USING ERRCODE = 'PR409', MESSAGE = one_row[n];
                    END IF;
                END IF;
                first := arg_ends[n] + 1;
            END LOOP;
            RETURN NULL;
        EXCEPTION WHEN OTHERS THEN
            RETURN n || ' ' || SQLSTATE || ' ' || SQLERRM;
        END
        $$;
        """,
        // 21: two changes to the group-commit writers' calls. (1) Several writers' writes in one
        // call: payrail_batch_writes runs each writer's statements (up to its `writer_ends`
        // entry) as a subtransaction of its own and answers the writers that failed, numbered
        // from 1, with the failure payrail_writes would answer. (2) No parsing and planning of
        // every statement on every call (40 % of PostgreSQL's CPU under load, measured with
        // perf): each statement text is prepared once per session as a named statement taking
        // its slice of `args`, and run with EXECUTE. A counted statement (one with a `one_row`
        // message) ends in RETURNING and is prepared wrapped to return its row count, since
        // EXECUTE reports none. Statements that cannot be wrapped, and any beyond 256 distinct
        // texts per session (a session keeps what it prepares), run as before. Which way each
        // text runs is remembered in a session setting; PREPARE is not undone by a rollback but
        // the setting is, so a forgotten text is looked up among the session's prepared
        // statements before it is prepared again.
        """
        CREATE FUNCTION payrail_prepare_write(statement_name TEXT, statement TEXT, counted BOOLEAN) RETURNS TEXT
        LANGUAGE plpgsql AS $$
        DECLARE
            how TEXT := 'prepared';
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_prepared_statements p WHERE p.name = statement_name) THEN
                IF (SELECT count(*) FROM pg_prepared_statements p WHERE left(p.name, 10) = 'payrail_w_') >= 256
                   OR (counted AND (upper(left(ltrim(statement, ' ' || chr(9) || chr(10) || chr(13)), 4)) = 'WITH' OR position('RETURNING' IN upper(statement)) = 0)) THEN
                    how := 'dynamic';
                ELSIF counted THEN
                    EXECUTE format('PREPARE %I(TEXT[]) AS WITH touched AS (%s) SELECT count(*) FROM touched', statement_name, statement);
                ELSE
                    EXECUTE format('PREPARE %I(TEXT[]) AS %s', statement_name, statement);
                END IF;
            END IF;
            PERFORM set_config('payrail.' || statement_name, how, false);
            RETURN how;
        END
        $$;
        CREATE FUNCTION payrail_writes_part(statements TEXT[], args TEXT[], arg_ends INT[], one_row TEXT[],
                                            first_statement INT, last_statement INT) RETURNS TEXT
        LANGUAGE plpgsql AS $$
        DECLARE
            n INT := first_statement - 1;
            first INT := CASE WHEN first_statement > 1 THEN arg_ends[first_statement - 1] + 1 ELSE 1 END;
            touched BIGINT;
            statement_name TEXT;
            how TEXT;
        BEGIN
            WHILE n < last_statement LOOP
                n := n + 1;
                statement_name := 'payrail_w_' || md5(statements[n]) || CASE WHEN one_row[n] IS NULL THEN '' ELSE '_n' END;
                how := current_setting('payrail.' || statement_name, true);
                IF how IS NULL OR how = '' THEN
                    how := payrail_prepare_write(statement_name, statements[n], one_row[n] IS NOT NULL);
                END IF;
                IF how = 'dynamic' THEN
                    EXECUTE statements[n] USING args[first : arg_ends[n]];
                    GET DIAGNOSTICS touched = ROW_COUNT;
                ELSIF one_row[n] IS NULL THEN
                    EXECUTE format('EXECUTE %I(%L)', statement_name, args[first : arg_ends[n]]);
                ELSE
                    EXECUTE format('EXECUTE %I(%L)', statement_name, args[first : arg_ends[n]]) INTO touched;
                END IF;
                IF one_row[n] IS NOT NULL AND touched <> 1 THEN
                    RAISE EXCEPTION USING ERRCODE = 'PR409', MESSAGE = one_row[n];
                END IF;
                first := arg_ends[n] + 1;
            END LOOP;
            RETURN NULL;
        EXCEPTION WHEN OTHERS THEN
            RETURN n || ' ' || SQLSTATE || ' ' || SQLERRM;
        END
        $$;
        CREATE OR REPLACE FUNCTION payrail_writes(statements TEXT[], args TEXT[], arg_ends INT[], one_row TEXT[]) RETURNS TEXT
        LANGUAGE sql AS $$
            SELECT payrail_writes_part(statements, args, arg_ends, one_row, 1, coalesce(array_length(statements, 1), 0))
        $$;
        CREATE FUNCTION payrail_batch_writes(statements TEXT[], args TEXT[], arg_ends INT[], one_row TEXT[], writer_ends INT[])
            RETURNS TABLE (failed_writer INT, failure TEXT)
        LANGUAGE plpgsql AS $$
        DECLARE
            w INT := 0;
            first_statement INT := 1;
        BEGIN
            WHILE w < coalesce(array_length(writer_ends, 1), 0) LOOP
                w := w + 1;
                failure := payrail_writes_part(statements, args, arg_ends, one_row, first_statement, writer_ends[w]);
                IF failure IS NOT NULL THEN
                    failed_writer := w;
                    RETURN NEXT;
                END IF;
                first_statement := writer_ends[w] + 1;
            END LOOP;
        END
        $$;
        """,
        // 22: a whole group-commit batch in one statement. When no writer of a batch needed
        // the server before its end (the usual case: writes only, held until the commit), the
        // batch is this one call in autocommit, so the statement is the transaction: no BEGIN,
        // no separate balance update, no COMMIT, one round trip instead of four. It runs the
        // writers' writes as payrail_batch_writes does, then adds the balance changes of the
        // writers whose writes applied (`balance_writers`: the writer's number in the call,
        // 0 for changes already settled), one row per account in account order, so concurrent
        // batches lock balance rows in the same order.
        """
        CREATE FUNCTION payrail_batch_commit(statements TEXT[], args TEXT[], arg_ends INT[], one_row TEXT[], writer_ends INT[],
                                             balance_writers INT[], balance_accounts TEXT[], balance_currencies TEXT[],
                                             balance_deltas INT8[], balance_entries INT8[])
            RETURNS TABLE (failed_writer INT, failure TEXT)
        LANGUAGE plpgsql AS $$
        DECLARE
            failed INT[] := '{}';
        BEGIN
            FOR failed_writer, failure IN SELECT * FROM payrail_batch_writes(statements, args, arg_ends, one_row, writer_ends) LOOP
                failed := failed || failed_writer;
                RETURN NEXT;
            END LOOP;
            INSERT INTO account_balances AS b (account, currency, balance_minor, entry_count)
            SELECT c.account_key, min(c.currency_code), sum(c.delta_minor)::INT8, sum(c.entry_delta)::INT8
            FROM unnest(balance_writers, balance_accounts, balance_currencies, balance_deltas, balance_entries)
                AS c (writer_number, account_key, currency_code, delta_minor, entry_delta)
            WHERE c.writer_number = 0 OR NOT (c.writer_number = ANY (failed))
            GROUP BY c.account_key
            ORDER BY c.account_key
            ON CONFLICT (account) DO UPDATE SET balance_minor = b.balance_minor + excluded.balance_minor,
                                                entry_count = b.entry_count + excluded.entry_count;
        END
        $$;
        """,
        // 23: the reconciliation job's index holds only the payments it can be asked for (in
        // flight: processing, requires_action): a payment enters it at its claim and leaves it
        // when it finishes, instead of staying in an index as large as the table for good.
        """
        DROP INDEX IF EXISTS payments_by_status_updated;
        CREATE INDEX payments_in_flight ON payments (status, updated_at_ms) WHERE status IN ('processing', 'requires_action');
        """,
    ]
}
