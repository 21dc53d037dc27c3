"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "apps",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("enable_draft_sync_hook", sa.Boolean(), nullable=False),
        sa.Column("enable_issuing_sync_hook", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("primary_email", sa.String(length=320), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("billing_address", sa.JSON(), nullable=True),
        sa.Column("usage_attribution", sa.JSON(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("namespace", "key", name="uq_customers_namespace_key"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=26), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_namespace_type", ["namespace", "type"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("api_key_id", sa.String(length=26), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=128), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "api_key_id", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "namespaces",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_namespaces")),
    )
    op.create_table(
        "number_sequences",
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("next_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "scope", name=op.f("pk_number_sequences")),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("billing_cadence", sa.String(length=8), nullable=False),
        sa.Column("trial_period", sa.String(length=32), nullable=True),
        sa.Column("charges", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("namespace", "key", name="uq_plans_namespace_key"),
    )
    op.create_table(
        "server_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_server_settings")),
    )
    op.create_table(
        "test_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("now", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_clock")),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("previous_secret", sa.String(length=128), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_endpoints_namespace", ["namespace"], unique=False)

    op.create_table(
        "billing_profiles",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("supplier", sa.JSON(), nullable=False),
        sa.Column("workflow", sa.JSON(), nullable=False),
        sa.Column("tax_app_id", sa.String(length=26), nullable=False),
        sa.Column("invoicing_app_id", sa.String(length=26), nullable=False),
        sa.Column("payment_app_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoicing_app_id"], ["apps.id"], name=op.f("fk_billing_profiles_invoicing_app_id_apps")
        ),
        sa.ForeignKeyConstraint(["payment_app_id"], ["apps.id"], name=op.f("fk_billing_profiles_payment_app_id_apps")),
        sa.ForeignKeyConstraint(["tax_app_id"], ["apps.id"], name=op.f("fk_billing_profiles_tax_app_id_apps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_profiles")),
    )
    with op.batch_alter_table("billing_profiles", schema=None) as batch_op:
        batch_op.create_index("ix_billing_profiles_namespace", ["namespace"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=26), nullable=False),
        sa.Column("plan_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("billing_anchor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trial_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_billing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_subscriptions_customer_id_customers")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_subscriptions_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_subscriptions_due", ["next_billing_at"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=26), nullable=False),
        sa.Column("event_id", sa.String(length=26), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=26), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["webhook_endpoints.id"], name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_webhook_deliveries_event_id_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_endpoint_id"), ["endpoint_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_event_id"), ["event_id"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_next_attempt", ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "customer_overrides",
        sa.Column("customer_id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("billing_profile_id", sa.String(length=26), nullable=True),
        sa.Column("workflow", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["billing_profile_id"],
            ["billing_profiles.id"],
            name=op.f("fk_customer_overrides_billing_profile_id_billing_profiles"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_overrides_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_overrides")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=26), nullable=False),
        sa.Column("subscription_id", sa.String(length=26), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("extended_status", sa.String(length=48), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("profile_id", sa.String(length=26), nullable=True),
        sa.Column("tax_app_id", sa.String(length=26), nullable=True),
        sa.Column("invoicing_app_id", sa.String(length=26), nullable=True),
        sa.Column("payment_app_id", sa.String(length=26), nullable=True),
        sa.Column("workflow", sa.JSON(), nullable=False),
        sa.Column("supplier", sa.JSON(), nullable=True),
        sa.Column("amount", sa.String(length=48), nullable=False),
        sa.Column("charges_total", sa.String(length=48), nullable=False),
        sa.Column("discounts_total", sa.String(length=48), nullable=False),
        sa.Column("credits_total", sa.String(length=48), nullable=False),
        sa.Column("taxes_total", sa.String(length=48), nullable=False),
        sa.Column("total", sa.String(length=48), nullable=False),
        sa.Column("validation_issues", sa.JSON(), nullable=False),
        sa.Column("external_invoicing_id", sa.String(length=256), nullable=True),
        sa.Column("external_payment_id", sa.String(length=256), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("draft_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_to_customer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("draft_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("draft_sync", sa.JSON(), nullable=True),
        sa.Column("removed_lines", sa.JSON(), nullable=True),
        sa.Column("issuing_sync", sa.JSON(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("next_action_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_invoices_subscription_id_subscriptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("namespace", "number", name="uq_invoices_namespace_number"),
        sa.UniqueConstraint("subscription_id", "kind", "period_start", name="uq_invoices_subscription_period"),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_invoices_namespace_status", ["namespace", "status"], unique=False)
        batch_op.create_index("ix_invoices_next_action", ["next_action_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wall_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["webhook_deliveries.id"], name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False)

    op.create_table(
        "custom_charges",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=26), nullable=False),
        sa.Column("invoice_id", sa.String(length=26), nullable=False),
        sa.Column("charge_code", sa.String(length=256), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("each_amount", sa.String(length=48), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_custom_charges_invoice_id_invoices")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_custom_charges_subscription_id_subscriptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_charges")),
    )
    with op.batch_alter_table("custom_charges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custom_charges_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_custom_charges_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=26), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("managed_by", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price", sa.JSON(), nullable=True),
        sa.Column("quantity", sa.String(length=48), nullable=False),
        sa.Column("included", sa.String(length=48), nullable=False),
        sa.Column("amount", sa.String(length=48), nullable=False),
        sa.Column("custom_charge_id", sa.String(length=26), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("external_invoicing_id", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_lines_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "invoice_transitions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=48), nullable=True),
        sa.Column("to_status", sa.String(length=48), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_transitions_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_transitions")),
    )
    with op.batch_alter_table("invoice_transitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_transitions_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "item_quantities",
        sa.Column("invoice_id", sa.String(length=26), nullable=False),
        sa.Column("item_key", sa.String(length=256), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.String(length=48), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_item_quantities_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("invoice_id", "item_key", name=op.f("pk_item_quantities")),
    )


def downgrade() -> None:

    op.drop_table("item_quantities")
    with op.batch_alter_table("invoice_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_transitions_invoice_id"))

    op.drop_table("invoice_transitions")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_lines_invoice_id"))

    op.drop_table("invoice_lines")
    with op.batch_alter_table("custom_charges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_charges_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_custom_charges_invoice_id"))

    op.drop_table("custom_charges")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_delivery_id"))

    op.drop_table("webhook_attempts")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_subscription_id"))
        batch_op.drop_index("ix_invoices_next_action")
        batch_op.drop_index("ix_invoices_namespace_status")
        batch_op.drop_index(batch_op.f("ix_invoices_customer_id"))

    op.drop_table("invoices")
    op.drop_table("customer_overrides")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_subject_id"))
        batch_op.drop_index("ix_webhook_deliveries_next_attempt")
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_event_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_endpoint_id"))

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_due")
        batch_op.drop_index(batch_op.f("ix_subscriptions_customer_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("billing_profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_profiles_namespace")

    op.drop_table("billing_profiles")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_endpoints_namespace")

    op.drop_table("webhook_endpoints")
    op.drop_table("test_clock")
    op.drop_table("server_settings")
    op.drop_table("plans")
    op.drop_table("number_sequences")
    op.drop_table("namespaces")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_subject_id"))
        batch_op.drop_index("ix_events_namespace_type")

    op.drop_table("events")
    op.drop_table("customers")
    op.drop_table("apps")
    op.drop_table("api_keys")
