"""Request and response models: they validate input and are the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

DecimalStr = Annotated[
    str, Field(pattern=r"^-?[0-9]{1,18}(\.[0-9]{1,12})?$", examples=["12.50"], description="A decimal string")
]
QuantityStr = Annotated[str, Field(pattern=r"^[0-9]{1,15}(\.[0-9]{1,12})?$", examples=["57.5"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"], description="ISO 4217 code")]
Key = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=256)]
Text = Annotated[str, Field(max_length=4096)]
IsoDuration = Annotated[str, Field(pattern=r"^P", max_length=32, examples=["P1M", "PT1H"])]
InvoicePeriod = Annotated[
    str,
    Field(
        max_length=64,
        examples=["outstanding"],
        description="`outstanding`: the subscription's held invoice (the oldest, unless `invoiceId` names one); "
        "any other value, or none, the current open period",
    ),
]
InvoiceId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="One held invoice of the subscription, named exactly (goes with `invoicePeriod` "
        "`outstanding` or none)",
    ),
]


class In(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="python", exclude_unset=False, by_alias=True)


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


class Period(Out):
    from_: str | None = Field(None, alias="from")
    to: str | None = None


# ------------------------------------------------------------------------------------ customers


class Address(BaseModel):
    model_config = ConfigDict(extra="ignore")
    country: Annotated[str, Field(max_length=2)] | None = None
    postalCode: Annotated[str, Field(max_length=64)] | None = None
    state: Annotated[str, Field(max_length=256)] | None = None
    city: Annotated[str, Field(max_length=256)] | None = None
    line1: Annotated[str, Field(max_length=256)] | None = None
    line2: Annotated[str, Field(max_length=256)] | None = None
    phoneNumber: Annotated[str, Field(max_length=64)] | None = None


class UsageAttribution(BaseModel):
    subjectKeys: list[Annotated[str, Field(max_length=256)]] = Field(default_factory=list, max_length=100)


class CustomerIn(In):
    key: Key | None = None
    name: Name
    description: Text | None = None
    primaryEmail: Annotated[str, Field(max_length=320)] | None = None
    currency: Currency | None = None
    billingAddress: Address | None = None
    metadata: dict[str, Annotated[str, Field(max_length=1024)]] | None = Field(None, max_length=50)
    usageAttribution: UsageAttribution | None = None


class Customer(Out):
    id: str
    key: str | None
    name: str
    description: str | None = None
    primaryEmail: str | None = None
    currency: str | None = None
    billingAddress: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    usageAttribution: dict[str, Any] | None = None
    createdAt: str
    updatedAt: str
    deletedAt: str | None = None


# ------------------------------------------------------------------------------------ prices


class AmountIn(BaseModel):
    type: Literal["flat", "unit"] | None = None
    amount: DecimalStr


class Tier(BaseModel):
    upToAmount: QuantityStr | None = None
    flatPrice: AmountIn | None = None
    unitPrice: AmountIn | None = None


class FlatPrice(BaseModel):
    type: Literal["flat"]
    amount: DecimalStr
    paymentTerm: Literal["in_advance", "in_arrears"] = "in_advance"


class UnitPrice(BaseModel):
    type: Literal["unit"]
    amount: DecimalStr
    minimumAmount: DecimalStr | None = None
    maximumAmount: DecimalStr | None = None


class TieredPrice(BaseModel):
    type: Literal["tiered"]
    mode: Literal["graduated", "volume"]
    tiers: list[Tier] = Field(min_length=1, max_length=100)
    minimumAmount: DecimalStr | None = None
    maximumAmount: DecimalStr | None = None


class PackagePrice(BaseModel):
    type: Literal["package"]
    amount: DecimalStr
    quantityPerPackage: QuantityStr
    minimumAmount: DecimalStr | None = None
    maximumAmount: DecimalStr | None = None


Price = Annotated[FlatPrice | UnitPrice | TieredPrice | PackagePrice, Field(discriminator="type")]


# ------------------------------------------------------------------------------------ plans


class ChargeIn(BaseModel):
    key: Key
    name: Name | None = None
    price: FlatPrice


class ItemIn(BaseModel):
    key: Key
    name: Name | None = None
    includedQuantity: QuantityStr = "0"
    usageType: Literal["metered", "licensed"] = "metered"
    price: Price


class PlanIn(In):
    key: Key
    name: Name
    description: Text | None = None
    currency: Currency
    billingCadence: Literal["P1D", "P1W", "P1M", "P3M", "P1Y"] = "P1M"
    trialPeriod: IsoDuration | None = None
    charges: list[ChargeIn] = Field(default_factory=list, max_length=50)
    items: list[ItemIn] = Field(default_factory=list, max_length=50)

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="python", exclude_none=True)


class PlanUpdate(PlanIn):
    key: Key | None = None  # type: ignore[assignment]

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="python", exclude_none=True)


class Plan(Out):
    id: str
    key: str
    name: str
    description: str | None = None
    currency: str
    billingCadence: str
    trialPeriod: str | None = None
    charges: list[dict[str, Any]]
    items: list[dict[str, Any]]
    createdAt: str
    updatedAt: str


# ------------------------------------------------------------------------------------ subscriptions


class SubscriptionIn(In):
    customerId: Annotated[str, Field(min_length=1, max_length=256, description="customer id or key")]
    plan: Annotated[str, Field(min_length=1, max_length=256, description="plan id or key")]
    startAt: AwareDatetime | None = None
    billingAnchor: AwareDatetime | None = None
    metadata: dict[str, Annotated[str, Field(max_length=1024)]] | None = Field(None, max_length=50)


class CancelIn(In):
    timing: Literal["immediate", "end_of_period"] = "end_of_period"


class Subscription(Out):
    id: str
    customerId: str
    planId: str
    planKey: str
    status: Literal["trialing", "active", "canceled", "ended"]
    startAt: str
    billingAnchor: str
    trialEnd: str | None = None
    currentPeriod: Period
    billingDatetime: str | None = None
    cancelAt: str | None = None
    canceledAt: str | None = None
    endedAt: str | None = None
    metadata: dict[str, Any] | None = None
    createdAt: str
    updatedAt: str


class QuantitySet(In):
    quantity: QuantityStr
    invoicePeriod: InvoicePeriod | None = None
    invoiceId: InvoiceId | None = None


class QuantityChange(In):
    quantity: QuantityStr = "1"
    invoicePeriod: InvoicePeriod | None = None
    invoiceId: InvoiceId | None = None


class ItemQuantity(Out):
    itemKey: str
    quantity: str
    invoicePeriod: Literal["current", "outstanding"] = Field(description="the period it changed")
    invoiceId: str
    period: Period
    carriedTo: list[str] | None = Field(
        None, description="a licensed item corrected on a held invoice: the later invoices the correction went on to"
    )


class SubscriptionItem(Out):
    key: str
    name: str
    usageType: str
    includedQuantity: str
    current: ItemQuantity | None = None
    outstanding: ItemQuantity | None = Field(None, description="on the oldest held invoice")
    held: list[ItemQuantity] = Field(default_factory=list, description="on every held invoice, oldest first")


class SubscriptionItems(Out):
    items: list[SubscriptionItem]


class ChargeCreate(In):
    chargeCode: Key
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    eachAmount: DecimalStr
    description: Text | None = None
    invoicePeriod: InvoicePeriod | None = None
    invoiceId: InvoiceId | None = None


class ChargeEdit(In):
    """What an edit may change (``chargeCode`` may not: delete the charge and add another)."""

    model_config = ConfigDict(extra="forbid")  # a field it does not change is refused, not dropped
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    eachAmount: DecimalStr | None = None
    description: Text | None = None
    invoicePeriod: InvoicePeriod | None = None
    invoiceId: InvoiceId | None = None


class CustomCharge(Out):
    id: str
    subscriptionId: str
    invoiceId: str
    invoicePeriod: Literal["current", "outstanding", "invoiced"] = Field(
        description="on the current period, on a held invoice, or billed (no longer editable)"
    )
    chargeCode: str
    quantity: int
    eachAmount: str
    amount: str
    description: str | None = None
    createdAt: str


class OutstandingRun(In):
    model_config = ConfigDict(extra="forbid")
    invoiceId: InvoiceId | None = None


class CustomCharges(Out):
    items: list[CustomCharge]


# ------------------------------------------------------------------------------------ invoices


class Totals(Out):
    amount: str
    chargesTotal: str
    discountsTotal: str
    creditsTotal: str
    taxesInclusiveTotal: str
    taxesExclusiveTotal: str
    taxesTotal: str
    total: str


class InvoiceLine(Out):
    id: str
    name: str
    type: Literal["flat_fee", "usage_based"]
    managedBy: str
    status: str
    period: Period
    invoiceAt: str
    price: dict[str, Any] | None = None
    quantity: str
    totals: Totals
    externalIds: dict[str, Any]


class StatusDetails(Out):
    immutable: bool
    failed: bool
    extendedStatus: str
    availableActions: dict[str, dict[str, str]]


class Invoice(Out):
    id: str
    type: Literal["standard"]
    number: str
    currency: str
    status: str
    statusDetails: StatusDetails
    customer: dict[str, Any]
    supplier: dict[str, Any]
    period: Period
    createdAt: str
    updatedAt: str
    issuedAt: str | None = None
    draftUntil: str | None = None
    dueAt: str | None = None
    voidedAt: str | None = None
    sentToCustomerAt: str | None = None
    workflow: dict[str, Any]
    lines: list[InvoiceLine] | None = None
    totals: Totals
    validationIssues: list[dict[str, Any]]
    externalIds: dict[str, Any]
    metadata: dict[str, Any] | None = None


class Transition(Out):
    from_: str | None = Field(None, alias="from")
    to: str
    trigger: str
    actor: str
    at: str


class InvoiceHistory(Out):
    items: list[Transition]


def paged(item: type[BaseModel]) -> type[BaseModel]:
    from pydantic import create_model

    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{item.__name__}List",
        __base__=Out,
        items=(list[item], ...),  # type: ignore[valid-type]
        page=(int, ...),
        pageSize=(int, ...),
        totalCount=(int, ...),
    )


CustomerList = paged(Customer)
PlanList = paged(Plan)
SubscriptionList = paged(Subscription)
InvoiceList = paged(Invoice)


# ------------------------------------------------------------------------------------ test clock


class ClockAdvance(In):
    to: AwareDatetime | None = None
    by: IsoDuration | None = None


class ClockState(Out):
    namespace: str
    now: str
    advancingTo: str | None = None
    enabled: bool
    pending: int | None = None


# ------------------------------------------------------------------------------------ apps and profiles


class MarketplaceInstall(In):
    name: Name | None = None
    createBillingProfile: bool = False


class MarketplaceListing(Out):
    type: str
    name: str
    description: str
    capabilities: list[dict[str, Any]]
    installMethods: list[str]


class App(Out):
    id: str
    type: Literal["sandbox", "custom_invoicing"]
    name: str
    status: str
    listing: MarketplaceListing
    createdAt: str
    updatedAt: str


class InstallResult(Out):
    app: App
    defaultForCapabilityTypes: list[str]


class AppReplace(In):
    name: Name
    description: Text | None = None
    metadata: dict[str, Annotated[str, Field(max_length=1024)]] | None = Field(None, max_length=50)
    type: Literal["sandbox", "custom_invoicing"] | None = None
    enableDraftSyncHook: bool | None = None
    enableIssuingSyncHook: bool | None = None


class TaxCode(BaseModel):
    code: Annotated[str, Field(max_length=128)] | None = None


class BillingParty(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: Annotated[str, Field(max_length=256)] | None = None
    name: Annotated[str, Field(max_length=256)] | None = None
    taxId: TaxCode | None = None
    addresses: list[Address] | None = Field(None, max_length=10)


class WorkflowInvoicing(BaseModel):
    model_config = ConfigDict(extra="ignore")
    autoAdvance: bool | None = None
    draftPeriod: IsoDuration | None = None
    dueAfter: IsoDuration | None = None
    progressiveBilling: bool | None = None
    billableGrace: IsoDuration | None = None
    billableHookFailure: Literal["hold", "proceed"] | None = None


class WorkflowPayment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    collectionMethod: Literal["charge_automatically", "send_invoice"] | None = None


class WorkflowCollection(BaseModel):
    model_config = ConfigDict(extra="ignore")
    alignment: dict[str, Any] | None = None
    interval: IsoDuration | None = None


class WorkflowTax(BaseModel):
    model_config = ConfigDict(extra="ignore")
    enabled: bool | None = None
    enforced: bool | None = None


class Workflow(BaseModel):
    model_config = ConfigDict(extra="ignore")
    collection: WorkflowCollection | None = None
    invoicing: WorkflowInvoicing | None = None
    payment: WorkflowPayment | None = None
    tax: WorkflowTax | None = None


class ProfileApps(BaseModel):
    tax: Annotated[str, Field(min_length=1, max_length=64)]
    invoicing: Annotated[str, Field(min_length=1, max_length=64)]
    payment: Annotated[str, Field(min_length=1, max_length=64)]


class ProfileIn(In):
    name: Name
    description: Text | None = None
    metadata: dict[str, Annotated[str, Field(max_length=1024)]] | None = Field(None, max_length=50)
    supplier: BillingParty = Field(default_factory=lambda: BillingParty.model_validate({}))
    default: bool = False
    workflow: Workflow = Field(default_factory=lambda: Workflow())

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ProfileCreate(ProfileIn):
    apps: ProfileApps


class BillingProfile(Out):
    id: str
    name: str
    default: bool
    supplier: dict[str, Any]
    workflow: dict[str, Any]
    apps: dict[str, Any]
    createdAt: str
    updatedAt: str


class OverrideIn(In):
    billingProfileId: Annotated[str, Field(max_length=64)] | None = None
    workflow: Workflow | None = None

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class CustomerOverride(Out):
    baseBillingProfileId: str
    customerProfile: dict[str, Any]
    customerOverride: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None


# ------------------------------------------------------------------------------------ pending lines, updates


class PeriodIn(BaseModel):
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime


class RateCardIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    featureKey: Key | None = None
    price: Price


class LineIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Name
    description: Text | None = None
    metadata: dict[str, Annotated[str, Field(max_length=1024)]] | None = Field(None, max_length=50)
    period: PeriodIn
    invoiceAt: AwareDatetime
    price: Price | None = None
    rateCard: RateCardIn | None = None
    featureKey: Key | None = None
    quantity: QuantityStr | None = None


class PendingLinesIn(In):
    currency: Currency
    lines: list[LineIn] = Field(min_length=1, max_length=100)

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="python", by_alias=True, exclude_none=True)


class PendingLinesOut(Out):
    lines: list[InvoiceLine]
    invoice: Invoice
    isInvoiceNew: bool


class InvoiceNowFilters(BaseModel):
    lineIds: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=1000)


class InvoiceNowIn(In):
    customerId: Annotated[str, Field(min_length=1, max_length=256)]
    asOf: AwareDatetime | None = None
    filters: InvoiceNowFilters | None = None
    progressiveBillingOverride: bool | None = None

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="python", exclude_none=True)


class LineReplace(LineIn):
    id: Annotated[str, Field(max_length=64)] | None = None


class InvoiceWorkflowIn(BaseModel):
    workflow: Workflow | None = None


class InvoiceReplace(In):
    description: Text | None = None
    metadata: dict[str, Annotated[str, Field(max_length=1024)]] | None = Field(None, max_length=50)
    supplier: BillingParty | None = None
    customer: BillingParty | None = None
    lines: list[LineReplace] = Field(max_length=500)
    workflow: InvoiceWorkflowIn | None = None

    def data(self) -> dict[str, Any]:
        out = self.model_dump(mode="python", by_alias=True, exclude_none=True)
        if out.get("workflow", {}).get("workflow") is not None:
            out["workflow"]["workflow"] = self.workflow.workflow.model_dump(mode="json", exclude_none=True)  # type: ignore[union-attr]
        if self.supplier is not None:
            out["supplier"] = self.supplier.model_dump(mode="json", exclude_none=True)
        return out


class VoidAction(BaseModel):
    type: Literal["discard", "pending"]
    nextInvoiceAt: AwareDatetime | None = None


class VoidActionWithShare(BaseModel):
    percentage: Annotated[float, Field(ge=0, le=100)]
    action: VoidAction


class VoidIn(In):
    action: VoidActionWithShare | None = None
    reason: Annotated[str, Field(max_length=1024)] | None = None
    overrides: list[dict[str, Any]] | None = Field(None, max_length=0)


# ------------------------------------------------------------------------------------ custom invoicing


class LineExternalId(BaseModel):
    lineId: Annotated[str, Field(min_length=1, max_length=64)]
    externalId: Annotated[str, Field(min_length=1, max_length=256)]


class LineDiscountExternalId(BaseModel):
    lineDiscountId: Annotated[str, Field(min_length=1, max_length=64)]
    externalId: Annotated[str, Field(min_length=1, max_length=256)]


class DraftSyncInvoicing(BaseModel):
    invoiceNumber: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    externalId: Annotated[str, Field(max_length=256)] | None = None
    lineExternalIds: list[LineExternalId] | None = Field(None, max_length=1000)
    lineDiscountExternalIds: list[LineDiscountExternalId] | None = Field(None, max_length=1000)


class DraftSyncIn(In):
    invoicing: DraftSyncInvoicing | None = None

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class IssuingSyncInvoicing(BaseModel):
    invoiceNumber: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    sentToCustomerAt: AwareDatetime | None = None


class IssuingSyncPayment(BaseModel):
    externalId: Annotated[str, Field(max_length=256)] | None = None


class IssuingSyncIn(In):
    invoicing: IssuingSyncInvoicing | None = None
    payment: IssuingSyncPayment | None = None

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="python", exclude_none=True)


class PaymentStatusIn(In):
    trigger: Literal["paid", "payment_failed", "payment_uncollectible", "payment_overdue", "action_required", "void"]


AppList = paged(App)
ListingList = paged(MarketplaceListing)
ProfileList = paged(BillingProfile)
OverrideList = paged(CustomerOverride)


# ------------------------------------------------------------------------------------ webhooks and events

EventType = Literal[
    "invoice.created",
    "invoice.updated",
    "invoice.paid",
    "invoice.overdue",
    "subscription.created",
    "subscription.canceled",
    "subscription.billable",
]


class EndpointIn(In):
    url: Annotated[str, Field(min_length=8, max_length=2048, examples=["https://example.com/billhook"])]
    eventTypes: list[EventType] = Field(default_factory=list, max_length=20)
    description: Text | None = None
    disabled: bool = False


class Endpoint(Out):
    id: str
    url: str
    eventTypes: list[str]
    description: str | None = None
    disabled: bool
    disabledReason: str | None = None
    createdAt: str
    updatedAt: str
    secret: str | None = None


class Attempt(Out):
    at: str
    wallTime: str
    statusCode: int | None = None
    latencyMs: int
    responseExcerpt: str | None = None
    error: str | None = None
    trigger: str


class Delivery(Out):
    id: str
    endpointId: str
    eventId: str
    eventType: str
    subjectId: str | None = None
    status: Literal["pending", "succeeded", "failed"]
    attemptCount: int
    nextAttemptAt: str | None = None
    attempts: list[Attempt]


class Event(Out):
    id: str
    type: str
    subjectId: str | None = None
    timestamp: str
    data: dict[str, Any]


EndpointList = paged(Endpoint)
DeliveryList = paged(Delivery)
EventList = paged(Event)
