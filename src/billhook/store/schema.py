"""The schema. Every row belongs to a namespace; an API key sees only its own."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from billhook.store.types import JSON_TEXT, UTC_, Dec

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> Column[str]:
    return Column("id", String(26), primary_key=True)


def _ns() -> Column[str]:
    return Column("namespace", String(64), nullable=False)


api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    _ns(),
    Column("name", String(200), nullable=True),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTC_, nullable=False),
    Column("revoked_at", UTC_, nullable=True),
)

# Installation-wide settings the server makes for itself (the dashboard's session signing key).
server_settings = Table(
    "server_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One test clock per namespace (when the test clock is on): its time, and the target of the walk in
# progress (the clock steps through every instant something of the namespace falls due until it).
test_clocks = Table(
    "test_clocks",
    metadata,
    Column("namespace", String(64), primary_key=True),
    Column("now", UTC_, nullable=False),
    Column("walk_to", UTC_, nullable=True),
    Column("updated_at", UTC_, nullable=False),
)

namespaces = Table(
    "namespaces",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("created_at", UTC_, nullable=False),
)

# Installed apps: the sandbox (settles by itself) and custom invoicing (an external system steers).
apps = Table(
    "apps",
    metadata,
    _id(),
    _ns(),
    Column("type", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("enable_draft_sync_hook", Boolean, nullable=False),
    Column("enable_issuing_sync_hook", Boolean, nullable=False),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
    Column("deleted_at", UTC_, nullable=True),
)

billing_profiles = Table(
    "billing_profiles",
    metadata,
    _id(),
    _ns(),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("is_default", Boolean, nullable=False),
    Column("supplier", JSON, nullable=False),
    Column("workflow", JSON, nullable=False),
    Column("tax_app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("invoicing_app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("payment_app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
    Column("deleted_at", UTC_, nullable=True),
    Index("ix_billing_profiles_namespace", "namespace"),
)

customers = Table(
    "customers",
    metadata,
    _id(),
    _ns(),
    Column("key", String(256), nullable=True),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=True),
    Column("primary_email", String(320), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("billing_address", JSON, nullable=True),
    Column("usage_attribution", JSON, nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
    Column("deleted_at", UTC_, nullable=True),
    UniqueConstraint("namespace", "key", name="uq_customers_namespace_key"),
)

# A customer's billing profile pin and workflow overrides.
customer_overrides = Table(
    "customer_overrides",
    metadata,
    Column("customer_id", String(26), ForeignKey("customers.id"), primary_key=True),
    _ns(),
    Column("billing_profile_id", String(26), ForeignKey("billing_profiles.id"), nullable=True),
    Column("workflow", JSON, nullable=True),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
)

plans = Table(
    "plans",
    metadata,
    _id(),
    _ns(),
    Column("key", String(256), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("billing_cadence", String(8), nullable=False),
    Column("trial_period", String(32), nullable=True),
    Column("charges", JSON, nullable=False),
    Column("items", JSON, nullable=False),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
    UniqueConstraint("namespace", "key", name="uq_plans_namespace_key"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    _id(),
    _ns(),
    Column("customer_id", String(26), ForeignKey("customers.id"), nullable=False, index=True),
    Column("plan_id", String(26), ForeignKey("plans.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_at", UTC_, nullable=False),
    Column("billing_anchor", UTC_, nullable=False),
    # set once the first in-advance charges were invoiced (at the start, or at the trial's end)
    Column("opened_at", UTC_, nullable=True),
    Column("trial_end", UTC_, nullable=True),
    Column("period_start", UTC_, nullable=False),
    Column("period_end", UTC_, nullable=False),
    # when the worker must next look at it: the period end while it runs, NULL once ended
    Column("next_billing_at", UTC_, nullable=True),
    Column("cancel_at", UTC_, nullable=True),
    Column("canceled_at", UTC_, nullable=True),
    Column("ended_at", UTC_, nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTC_, nullable=True),
    Index("ix_subscriptions_due", "next_billing_at"),
)

invoices = Table(
    "invoices",
    metadata,
    _id(),
    _ns(),
    Column("customer_id", String(26), ForeignKey("customers.id"), nullable=False, index=True),
    Column("subscription_id", String(26), ForeignKey("subscriptions.id"), nullable=True, index=True),
    # period: closes a subscription period; opening: the first in-advance charge; manual: pending lines
    Column("kind", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(24), nullable=False),
    Column("extended_status", String(48), nullable=False),
    Column("number", String(64), nullable=False),
    Column("period_start", UTC_, nullable=False),
    Column("period_end", UTC_, nullable=False),
    Column("description", Text, nullable=True),
    # the billing profile and apps in force, and the merged workflow, snapshotted when it left gathering
    Column("profile_id", String(26), nullable=True),
    Column("tax_app_id", String(26), nullable=True),
    Column("invoicing_app_id", String(26), nullable=True),
    Column("payment_app_id", String(26), nullable=True),
    Column("workflow", JSON, nullable=False),
    Column("supplier", JSON, nullable=True),
    Column("amount", Dec, nullable=False),
    Column("charges_total", Dec, nullable=False),
    Column("discounts_total", Dec, nullable=False),
    Column("credits_total", Dec, nullable=False),
    Column("taxes_total", Dec, nullable=False),
    Column("total", Dec, nullable=False),
    Column("validation_issues", JSON, nullable=False),
    Column("external_invoicing_id", String(256), nullable=True),
    Column("external_payment_id", String(256), nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
    Column("issued_at", UTC_, nullable=True),
    Column("draft_until", UTC_, nullable=True),
    Column("due_at", UTC_, nullable=True),
    Column("voided_at", UTC_, nullable=True),
    Column("paid_at", UTC_, nullable=True),
    Column("sent_to_customer_at", UTC_, nullable=True),
    Column("draft_synced_at", UTC_, nullable=True),
    # the last accepted sync results, so that the same submission again is a no-op
    Column("draft_sync", JSON, nullable=True),
    # subscription lines removed by hand (Update Invoice): a recalculation does not bring them back
    Column("removed_lines", JSON, nullable=True),
    Column("issuing_sync", JSON, nullable=True),
    Column("deleted_at", UTC_, nullable=True),
    Column("version", Integer, nullable=False),
    # when the worker must next look at it (draftUntil, dueAt, a hold's expiry); NULL: nothing to wait for
    Column("next_action_at", UTC_, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTC_, nullable=True),
    # No subscription period is invoiced twice.
    UniqueConstraint("subscription_id", "kind", "period_start", name="uq_invoices_subscription_period"),
    # Final numbers are unique in the namespace (draft numbers carry the invoice id).
    UniqueConstraint("namespace", "number", name="uq_invoices_namespace_number"),
    Index("ix_invoices_next_action", "next_action_at"),
    Index("ix_invoices_namespace_status", "namespace", "status"),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    _id(),
    _ns(),
    Column("invoice_id", String(26), ForeignKey("invoices.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("managed_by", String(16), nullable=False),
    Column("key", String(256), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=True),
    Column("period_start", UTC_, nullable=False),
    Column("period_end", UTC_, nullable=False),
    Column("invoice_at", UTC_, nullable=False),
    Column("price", JSON, nullable=True),
    Column("quantity", Dec, nullable=False),
    Column("included", Dec, nullable=False),
    Column("amount", Dec, nullable=False),
    Column("custom_charge_id", String(26), nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("external_invoicing_id", String(256), nullable=True),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
)

item_quantities = Table(
    "item_quantities",
    metadata,
    Column("invoice_id", String(26), ForeignKey("invoices.id"), primary_key=True),
    Column("item_key", String(256), primary_key=True),
    _ns(),
    Column("quantity", Dec, nullable=False),
    Column("updated_at", UTC_, nullable=False),
)

custom_charges = Table(
    "custom_charges",
    metadata,
    _id(),
    _ns(),
    Column("subscription_id", String(26), ForeignKey("subscriptions.id"), nullable=False, index=True),
    Column("invoice_id", String(26), ForeignKey("invoices.id"), nullable=False, index=True),
    Column("charge_code", String(256), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("each_amount", Dec, nullable=False),
    Column("description", Text, nullable=True),
    Column("created_at", UTC_, nullable=False),
)

invoice_transitions = Table(
    "invoice_transitions",
    metadata,
    _id(),
    _ns(),
    Column("invoice_id", String(26), ForeignKey("invoices.id"), nullable=False, index=True),
    # the invoice's version after the transition: orders its history
    Column("seq", Integer, nullable=False),
    Column("from_status", String(48), nullable=True),
    Column("to_status", String(48), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", UTC_, nullable=False),
)

events = Table(
    "events",
    metadata,
    _id(),
    _ns(),
    Column("type", String(64), nullable=False),
    Column("subject_id", String(26), nullable=True, index=True),
    Column("occurred_at", UTC_, nullable=False),
    Column("data", JSON_TEXT, nullable=False),  # text on PostgreSQL (see JsonText)
    Index("ix_events_namespace_type", "namespace", "type"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    _id(),
    _ns(),
    Column("url", String(2048), nullable=False),
    Column("description", Text, nullable=True),
    # the event types it receives; empty: every type
    Column("event_types", JSON, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("secret", String(128), nullable=False),
    # during a rotation the previous secret signs too, until it expires
    Column("previous_secret", String(128), nullable=True),
    Column("previous_secret_expires_at", UTC_, nullable=True),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
    Column("deleted_at", UTC_, nullable=True),
    Index("ix_webhook_endpoints_namespace", "namespace"),
)

# One delivery per (event, subscribed endpoint); the row is the job the worker claims.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _id(),
    _ns(),
    Column("endpoint_id", String(26), ForeignKey("webhook_endpoints.id"), nullable=False, index=True),
    Column("event_id", String(26), ForeignKey("events.id"), nullable=False, index=True),
    Column("event_type", String(64), nullable=False),
    # what the event is about (the held invoice for subscription.billable)
    Column("subject_id", String(26), nullable=True, index=True),
    Column("status", String(16), nullable=False),  # pending | succeeded | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTC_, nullable=True),
    Column("last_attempt_at", UTC_, nullable=True),
    Column("succeeded_at", UTC_, nullable=True),
    Column("failed_at", UTC_, nullable=True),
    Column("created_at", UTC_, nullable=False),
    Column("updated_at", UTC_, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTC_, nullable=True),
    UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
    Index("ix_webhook_deliveries_next_attempt", "next_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    _id(),
    _ns(),
    Column("delivery_id", String(26), ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("attempted_at", UTC_, nullable=False),
    Column("wall_time", UTC_, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("response_excerpt", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("trigger", String(16), nullable=False),  # schedule | redeliver
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    _ns(),
    Column("key", String(256), primary_key=True),
    Column("api_key_id", String(26), primary_key=True),
    Column("method", String(8), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("content_type", String(128), nullable=True),
    Column("completed", Boolean, nullable=False),
    Column("created_at", UTC_, nullable=False),
)

number_sequences = Table(
    "number_sequences",
    metadata,
    Column("namespace", String(64), primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("next_value", Integer, nullable=False),
)
