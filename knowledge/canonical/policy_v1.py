"""Canonical policy model v1 (ARCHITECTURE section 8): seven components, frozen once released.

Field names are API: the matcher, mapping specs, routing rules and exports all address fields by
their dotted path (`policy_core.insured_party.address.state`,
`coverage_sections[].limits.aggregate`).
Never rename or retype a v1 field; evolve in a new version with a migration (see `policy_v2`).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from knowledge.canonical.parties import AgentInfo, Party
from knowledge.canonical.parts import (
    CanonicalModel,
    ClaimLink,
    Communication,
    Coverage,
    Document,
    Endorsement,
    Notice,
    PaymentRecord,
    RatingCalculation,
    RatingFactor,
    check_date_order,
)
from knowledge.canonical.types import (
    Frequency,
    Identifier,
    IsoDate,
    Money,
    NonNegativeMoney,
    PolicyStatus,
)

VERSION = "policy_v1"


class PolicyCore(CanonicalModel):
    """Who, what, when: the policy header (ACORD PersPolicy / CommlPolicy, OED Pol fields)."""

    policy_id: Identifier = Field(
        description="Policy number: the business key of the policy contract, leading zeros "
        "kept. Also called contract number, certificate number, policy reference. Legacy names: "
        "POL_NO, POL_NBR, POL NBR, POLICY_NUM, PLCY_NO, CONTRACT_NO, CERT_NO, PolNumber, "
        "POL-NUMBER.",
    )
    status: PolicyStatus = Field(
        description="Policy status normalised to active (in force), inactive (lapsed, "
        "suspended), pending (quoted, bound, awaiting issue), cancelled (terminated mid-term) or "
        "expired (ran to term end without renewal). Legacy names: POL_STAT, POL_STS_CD, STATUS, "
        "STAT_CD, PolStatus, CONTRACT_STATUS.",
    )
    effective_date: IsoDate = Field(
        description="Policy effective date: inception date, start date, term effective date, "
        "date cover incepts. Legacy names: EFF_DT, POL_EFF_DTE, EFFDT, INCP_DT, INCEPT_DATE, "
        "START_DT, PolInceptionDate.",
    )
    expiration_date: IsoDate | None = Field(
        None,
        description="Policy expiration date: expiry date, end of term, maturity date, renewal "
        "date. Legacy names: EXP_DT, EXPR_DTE, POL_EXP_DT, EXPIRY_DATE, END_DT, TERM_DT, "
        "PolExpiryDate.",
    )
    issue_date: IsoDate | None = Field(
        None,
        description="Date the policy was issued, written or booked (issue date, written date, "
        "date processed). Legacy names: ISS_DT, ISSUE_DTE, WRTN_DT, BOOK_DT.",
    )
    policy_type: str | None = Field(
        None,
        max_length=100,
        description="Product or policy form as the source system names it: product code, plan "
        "code, policy form (HO-3, term life 20, personal auto, BOP), line of business "
        "description. Legacy names: POL_TYP, PROD_CD, PRODUCT, PLAN_CD, FORM_CD, LOB, POL_FORM.",
    )
    carrier: str | None = Field(
        None,
        max_length=100,
        description="Insurance carrier / writing company / underwriting company / insurer / "
        "NAIC company code that issued the policy. Legacy names: CARR, CARR_CD, CO_CD, CO_NO, "
        "COMPANY, WRTG_CO, INSURER, NAIC_CD, CedantName.",
    )
    insured_party: Party | None = Field(
        None,
        description="The insured: named insured, policyholder, policy owner, customer, client "
        "(INSD group, CUST record).",
    )
    agent_info: AgentInfo | None = Field(
        None,
        description="Agent, producer or broker of record (AGT / PROD / BRKR group).",
    )

    @model_validator(mode="after")
    def _term_in_order(self) -> PolicyCore:
        check_date_order(self)
        return self


class RatingComponents(CanonicalModel):
    """How the premium was produced (rating worksheet, premium summary)."""

    premium_amount: NonNegativeMoney | None = Field(
        None,
        description="Policy premium for the term: total written premium, annual premium, gross "
        "premium, modal premium billed. Legacy names: PREM, PREM_AMT, TOT_PREM, WRTN_PREM, "
        "ANN_PREM, GROSS_PREM, PolGrossPremium, POL-PREMIUM.",
    )
    premium_frequency: Frequency | None = Field(
        None,
        description="How often premium falls due (premium mode, modal frequency): annual, "
        "semi_annual, quarterly, monthly, single (single premium) or other. Legacy names: "
        "PREM_MODE, MODE_CD, PREM_FREQ, PAY_MODE.",
    )
    rating_factors: tuple[RatingFactor, ...] = Field(
        (),
        description="Rating variables and their factors: territory, class, tier, age, "
        "experience modifier, discounts (RT_FCTR table).",
    )
    calculations: tuple[RatingCalculation, ...] = Field(
        (),
        description="Premium build-up steps: base premium, surcharges, discounts, fees, taxes "
        "(premium calculation detail).",
    )
    last_rated_date: IsoDate | None = Field(
        None,
        description="Date the policy was last rated or re-rated. Legacy names: RATE_DT, "
        "LST_RTD_DT, RATING_DTE, RERATE_DT.",
    )


class Payments(CanonicalModel):
    """Billing account of the policy (billing system, BILL / ACCT records)."""

    payment_plan: str | None = Field(
        None,
        max_length=100,
        description="Payment plan or billing plan: direct bill, agency bill, EFT/auto-pay, "
        "payroll deduction, pay-in-full, 10-pay, installment plan code. Legacy names: PAY_PLAN, "
        "BILL_PLAN_CD, PMT_PLN, BILL_TYP.",
    )
    billing_frequency: Frequency | None = Field(
        None,
        description="How often the customer is billed: annual, semi_annual, quarterly, monthly, "
        "single or other. Legacy names: BILL_FREQ, PMT_FREQ, PAY_FREQ_CD, BILL_MODE.",
    )
    payment_history: tuple[PaymentRecord, ...] = Field(
        (),
        description="Payments received or attempted (cash receipts, payment transactions).",
    )
    outstanding_balance: Money | None = Field(
        None,
        description="Amount still owed on the billing account; negative for a credit balance "
        "(overpayment). Legacy names: BAL, OUTST_BAL, OS_AMT, BAL_DUE, AMT_DUE, ACCT_BAL.",
    )


class Correspondence(CanonicalModel):
    """What was sent to or received from the customer about the policy."""

    documents: tuple[Document, ...] = Field(
        (), description="Documents issued or received (dec pages, ID cards, forms, bills)."
    )
    communications: tuple[Communication, ...] = Field(
        (), description="Letters, calls, e-mails and other contacts (correspondence log)."
    )
    notices: tuple[Notice, ...] = Field(
        (), description="Statutory and contractual notices (cancellation, non-renewal, lapse)."
    )


class CanonicalPolicyV1(CanonicalModel):
    """One policy in canonical form, version 1."""

    policy_core: PolicyCore = Field(
        description="Policy header: number, status, term dates, product, carrier, insured, agent."
    )
    coverage_sections: tuple[Coverage, ...] = Field(
        (),
        description="Coverages, coverage parts, riders or benefits with their limits and "
        "deductibles (COV table, OCCURS group).",
    )
    rating_components: RatingComponents | None = Field(
        None, description="Premium and how it was rated."
    )
    payments: Payments | None = Field(
        None, description="Billing plan, payments received and outstanding balance."
    )
    correspondence: Correspondence | None = Field(
        None, description="Documents, communications and notices."
    )
    endorsements: tuple[Endorsement, ...] = Field(
        (), description="Mid-term changes (endorsements, amendments, policy change transactions)."
    )
    claims_links: tuple[ClaimLink, ...] = Field(
        (), description="Claims made under this policy (claim numbers in the claims system)."
    )


__all__ = [
    "VERSION",
    "CanonicalPolicyV1",
    "Correspondence",
    "Money",
    "Payments",
    "PolicyCore",
    "RatingComponents",
]
