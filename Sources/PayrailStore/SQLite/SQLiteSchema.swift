/// The embedded store's schema, as ordered migrations. Each runs once, in its own
/// transaction, recorded in `schema_migrations`.
enum SQLiteSchema {
    static let migrations: [String] = [
        """
        CREATE TABLE merchants (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL
        );
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL REFERENCES merchants(id),
            secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),
            livemode INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL,
            revoked_at_ms INTEGER
        );
        CREATE TABLE idempotency_keys (
            merchant_id TEXT NOT NULL,
            key TEXT NOT NULL,
            operation TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
            locked_until_ms INTEGER NOT NULL,
            resource_id TEXT,
            response BLOB,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
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
            sealed_pan BLOB NOT NULL,
            wrapped_data_key BLOB NOT NULL,
            key_version INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL
        );
        CREATE TABLE payments (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            status TEXT NOT NULL,
            amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            capture_method TEXT NOT NULL,
            amount_capturable_minor INTEGER NOT NULL,
            amount_captured_minor INTEGER NOT NULL,
            amount_refunded_minor INTEGER NOT NULL,
            amount_refund_pending_minor INTEGER NOT NULL,
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
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            version INTEGER NOT NULL,
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
            locked_until_ms INTEGER NOT NULL
        );
        CREATE TABLE refunds (
            id TEXT PRIMARY KEY,
            payment_id TEXT NOT NULL REFERENCES payments(id),
            merchant_id TEXT NOT NULL,
            amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            failure_reason TEXT,
            failure_decline_code TEXT,
            failure_message TEXT,
            processor_reference TEXT,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        );
        CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at_ms);
        CREATE TABLE ledger_transactions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            payment_id TEXT NOT NULL,
            refund_id TEXT,
            created_at_ms INTEGER NOT NULL
        );
        CREATE INDEX ledger_transactions_by_payment ON ledger_transactions (payment_id);
        CREATE TABLE ledger_entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            transaction_id TEXT NOT NULL REFERENCES ledger_transactions(id),
            account TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount_minor INTEGER NOT NULL CHECK (amount_minor <> 0)
        );
        CREATE INDEX ledger_entries_by_transaction ON ledger_entries (transaction_id);
        CREATE INDEX ledger_entries_by_account ON ledger_entries (account);
        CREATE TRIGGER ledger_entries_append_only_update BEFORE UPDATE ON ledger_entries
            BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
        CREATE TRIGGER ledger_entries_append_only_delete BEFORE DELETE ON ledger_entries
            BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
        CREATE TRIGGER ledger_transactions_append_only_update BEFORE UPDATE ON ledger_transactions
            BEGIN SELECT RAISE(ABORT, 'ledger_transactions is append-only'); END;
        CREATE TRIGGER ledger_transactions_append_only_delete BEFORE DELETE ON ledger_transactions
            BEGIN SELECT RAISE(ABORT, 'ledger_transactions is append-only'); END;
        """,
        """
        CREATE TABLE outbox_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            resource_id TEXT NOT NULL,
            payload BLOB NOT NULL,
            created_at_ms INTEGER NOT NULL
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
            balance_minor INTEGER NOT NULL,
            entry_count INTEGER NOT NULL
        );
        INSERT INTO account_balances (account, currency, balance_minor, entry_count)
            SELECT account, currency, SUM(amount_minor), COUNT(*) FROM ledger_entries GROUP BY account, currency;
        """,
        """
        CREATE TABLE fx_rates (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            from_currency TEXT NOT NULL,
            to_currency TEXT NOT NULL,
            rate_scaled INTEGER NOT NULL CHECK (rate_scaled > 0),
            source TEXT NOT NULL,
            valid_from_ms INTEGER NOT NULL,
            valid_until_ms INTEGER NOT NULL,
            CHECK (valid_until_ms > valid_from_ms),
            CHECK (from_currency <> to_currency)
        );
        CREATE INDEX fx_rates_by_pair ON fx_rates (from_currency, to_currency, valid_from_ms);
        CREATE TABLE fx_quotes (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            from_currency TEXT NOT NULL,
            to_currency TEXT NOT NULL,
            rate_scaled INTEGER NOT NULL CHECK (rate_scaled > 0),
            markup_bps INTEGER NOT NULL,
            source TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL
        );
        ALTER TABLE merchants ADD COLUMN settlement_currency TEXT;
        ALTER TABLE payments ADD COLUMN settlement_currency TEXT;
        ALTER TABLE payments ADD COLUMN fx_rate_scaled INTEGER;
        ALTER TABLE payments ADD COLUMN fx_markup_bps INTEGER;
        ALTER TABLE payments ADD COLUMN fx_quote_id TEXT;
        """,
        """
        CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            url TEXT NOT NULL,
            event_types TEXT NOT NULL,
            description TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
            disabled_reason TEXT,
            secrets TEXT NOT NULL,
            failing_since_ms INTEGER,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        );
        CREATE INDEX webhook_endpoints_by_merchant ON webhook_endpoints (merchant_id);
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL,
            endpoint_id TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            next_attempt_at_ms INTEGER NOT NULL,
            leased_until_ms INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            UNIQUE (event_id, endpoint_id)
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at_ms);
        CREATE TABLE webhook_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
            attempted_at_ms INTEGER NOT NULL,
            http_status INTEGER,
            latency_ms INTEGER NOT NULL,
            error TEXT,
            response_excerpt TEXT NOT NULL,
            retry_at_ms INTEGER
        );
        CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
        ALTER TABLE outbox_events ADD COLUMN fanned_out_at_ms INTEGER;
        CREATE INDEX outbox_events_awaiting_fan_out ON outbox_events (seq) WHERE fanned_out_at_ms IS NULL;
        """,
        """
        CREATE TABLE traffic_changes (
            version INTEGER PRIMARY KEY,
            plan TEXT NOT NULL,
            action TEXT NOT NULL,
            arguments TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL,
            at_ms INTEGER NOT NULL
        );
        CREATE TRIGGER traffic_changes_append_only_update BEFORE UPDATE ON traffic_changes
            BEGIN SELECT RAISE(ABORT, 'traffic_changes is append-only'); END;
        CREATE TRIGGER traffic_changes_append_only_delete BEFORE DELETE ON traffic_changes
            BEGIN SELECT RAISE(ABORT, 'traffic_changes is append-only'); END;
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
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (merchant_id, list, kind, value)
        );
        """,
        """
        ALTER TABLE vault_cards ADD COLUMN customer_ref TEXT;
        ALTER TABLE vault_cards ADD COLUMN erased_at_ms INTEGER;
        CREATE INDEX vault_cards_by_key_version ON vault_cards (key_version);
        CREATE INDEX vault_cards_by_customer ON vault_cards (merchant_id, customer_ref);
        CREATE TABLE vault_access_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            token TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            purpose TEXT NOT NULL,
            at_ms INTEGER NOT NULL
        );
        CREATE INDEX vault_access_log_by_token ON vault_access_log (token, id);
        CREATE TRIGGER vault_access_log_append_only_update BEFORE UPDATE ON vault_access_log
            BEGIN SELECT RAISE(ABORT, 'vault_access_log is append-only'); END;
        CREATE TRIGGER vault_access_log_append_only_delete BEFORE DELETE ON vault_access_log
            BEGIN SELECT RAISE(ABORT, 'vault_access_log is append-only'); END;
        """,
        // 10: the vault moves to a database file of its own (attached as `vault`, migrated
        // first by SQLiteStore.open); cards and the access log are carried over.
        """
        INSERT INTO vault.cards (token, merchant_id, brand, last4, exp_month, exp_year, fingerprint, country, sealed_pan,
            wrapped_data_key, key_version, created_at_ms, customer_ref, erased_at_ms)
            SELECT token, merchant_id, brand, last4, exp_month, exp_year, fingerprint, country, sealed_pan,
            wrapped_data_key, key_version, created_at_ms, customer_ref, erased_at_ms FROM main.vault_cards WHERE true
            ON CONFLICT (token) DO NOTHING;
        INSERT INTO vault.access_log (token, merchant_id, actor, purpose, at_ms)
            SELECT token, merchant_id, actor, purpose, at_ms FROM main.vault_access_log ORDER BY id;
        DROP TRIGGER main.vault_access_log_append_only_update;
        DROP TRIGGER main.vault_access_log_append_only_delete;
        DROP TABLE main.vault_access_log;
        DROP TABLE main.vault_cards;
        """,
        // 11: routing with failover (the processors a payment was tried at before its current
        // one) and the reconciliation job's work list (payments stuck in `processing`).
        """
        ALTER TABLE payments ADD COLUMN connectors_tried TEXT NOT NULL DEFAULT '';
        CREATE INDEX payments_by_status_updated ON payments (status, updated_at_ms);
        CREATE INDEX idempotency_keys_by_resource ON idempotency_keys (resource_id);
        """,
        // 12: chargebacks reported by the processors (one row per network dispute).
        """
        CREATE TABLE disputes (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            payment_id TEXT NOT NULL REFERENCES payments(id),
            connector TEXT NOT NULL,
            network_dispute_id TEXT NOT NULL,
            amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
            fee_minor INTEGER NOT NULL CHECK (fee_minor >= 0),
            currency TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won', 'lost')),
            evidence TEXT NOT NULL,
            evidence_due_at_ms INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            version INTEGER NOT NULL,
            UNIQUE (connector, network_dispute_id)
        );
        CREATE INDEX disputes_by_merchant ON disputes (merchant_id, livemode, created_at_ms DESC, id DESC);
        CREATE INDEX disputes_by_payment ON disputes (payment_id);
        """,
        // 13: payouts to the merchants' banks and cards.
        """
        CREATE TABLE payouts (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
            fee_minor INTEGER NOT NULL CHECK (fee_minor >= 0),
            currency TEXT NOT NULL,
            method TEXT NOT NULL CHECK (method IN ('standard', 'instant')),
            destination_kind TEXT NOT NULL CHECK (destination_kind IN ('bank_account', 'card')),
            routing_number TEXT,
            last4 TEXT NOT NULL,
            card_token TEXT,
            card_brand TEXT,
            status TEXT NOT NULL CHECK (status IN ('pending', 'in_transit', 'paid', 'failed')),
            bank_reference TEXT,
            arrival_at_ms INTEGER,
            failure_code TEXT,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            version INTEGER NOT NULL
        );
        CREATE INDEX payouts_by_merchant ON payouts (merchant_id, livemode, created_at_ms DESC, id DESC);
        CREATE INDEX payouts_by_status ON payouts (status, created_at_ms);
        -- One row per merchant balance that pays out: creating a payout locks it, so two
        -- payouts never both spend the same funds (the check and the debit are serialized).
        CREATE TABLE payout_guards (
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            currency TEXT NOT NULL,
            payouts INTEGER NOT NULL,
            PRIMARY KEY (merchant_id, livemode, currency)
        );
        """,
        // 14: payment methods beyond cards (wallets, bank debits, BNPL); the card columns
        // are empty for methods without a card.
        """
        ALTER TABLE payments ADD COLUMN method_kind TEXT NOT NULL DEFAULT 'card';
        ALTER TABLE payments ADD COLUMN method_details TEXT;
        """,
        // 15: subscriptions: plans, subscriptions and their invoices.
        """
        CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            name TEXT NOT NULL,
            amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            interval_unit TEXT NOT NULL CHECK (interval_unit IN ('day', 'week', 'month', 'year')),
            interval_count INTEGER NOT NULL CHECK (interval_count > 0),
            trial_days INTEGER NOT NULL CHECK (trial_days >= 0),
            created_at_ms INTEGER NOT NULL
        );
        CREATE TABLE subscriptions (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            plan_id TEXT NOT NULL REFERENCES plans(id),
            card_token TEXT NOT NULL,
            anchor_day INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
            current_period_start_ms INTEGER NOT NULL,
            current_period_end_ms INTEGER NOT NULL,
            cancel_at_period_end INTEGER NOT NULL,
            canceled_at_ms INTEGER,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            version INTEGER NOT NULL
        );
        CREATE INDEX subscriptions_due ON subscriptions (status, current_period_end_ms);
        CREATE TABLE invoices (
            id TEXT PRIMARY KEY,
            subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
            merchant_id TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            period_start_ms INTEGER NOT NULL,
            period_end_ms INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'uncollectible')),
            attempts INTEGER NOT NULL,
            next_attempt_at_ms INTEGER,
            payment_id TEXT,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            version INTEGER NOT NULL,
            UNIQUE (subscription_id, period_start_ms)
        );
        CREATE INDEX invoices_due ON invoices (status, next_attempt_at_ms);
        """,
        // 16: redirect-and-approve wallets (PayPal style): where the buyer approves.
        """
        ALTER TABLE payments ADD COLUMN challenge_redirect_url TEXT;
        """,
        // 17: a dispute's fee in the settlement currency when the payment settled through FX.
        """
        ALTER TABLE disputes ADD COLUMN fee_currency TEXT;
        """,
        // 18: no query reads ledger entries by account (balances live in account_balances, the
        // verifier scans the whole table), and the index cost every posting an insert in the
        // middle of the hot merchant account's range.
        """
        DROP INDEX IF EXISTS ledger_entries_by_account;
        """,
        // 19: the reconciliation job's index holds only the payments it can be asked for (in
        // flight: processing, requires_action): a payment enters it at its claim and leaves it
        // when it finishes, instead of every payment staying in it for good with two entry
        // changes per payment in an index as large as the table. ~2 fewer WAL pages per commit.
        """
        DROP INDEX IF EXISTS payments_by_status_updated;
        CREATE INDEX payments_in_flight ON payments (status, updated_at_ms) WHERE status IN ('processing', 'requires_action');
        """,
    ]

    /// The vault's own database file (attached as `vault`).
    static let vaultMigrations = [
        """
        CREATE TABLE vault.cards (
            token TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            brand TEXT NOT NULL,
            last4 TEXT NOT NULL CHECK (length(last4) = 4),
            exp_month INTEGER NOT NULL,
            exp_year INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            country TEXT NOT NULL,
            sealed_pan BLOB NOT NULL,
            wrapped_data_key BLOB NOT NULL,
            key_version INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL,
            customer_ref TEXT,
            erased_at_ms INTEGER
        );
        CREATE INDEX vault.cards_by_key_version ON cards (key_version);
        CREATE INDEX vault.cards_by_customer ON cards (merchant_id, customer_ref);
        CREATE TABLE vault.access_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            token TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            purpose TEXT NOT NULL,
            at_ms INTEGER NOT NULL
        );
        CREATE INDEX vault.access_log_by_token ON access_log (token, id);
        CREATE TRIGGER vault.access_log_append_only_update BEFORE UPDATE ON access_log
            BEGIN SELECT RAISE(ABORT, 'vault access_log is append-only'); END;
        CREATE TRIGGER vault.access_log_append_only_delete BEFORE DELETE ON access_log
            BEGIN SELECT RAISE(ABORT, 'vault access_log is append-only'); END;
        """,
        // 2: only cards saved for a customer are found by customer (to erase them); a card
        // vaulted for one payment has none and needs no entry. At 64 payments in flight this
        // index was ~45 % of the vault's WAL pages per commit.
        """
        DROP INDEX IF EXISTS vault.cards_by_customer;
        CREATE INDEX vault.cards_by_customer ON cards (merchant_id, customer_ref) WHERE customer_ref IS NOT NULL;
        """,
    ]
}
