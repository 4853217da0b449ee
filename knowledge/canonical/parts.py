"""Typed building blocks of the canonical policy (parties, money terms, history items).

Descriptions are written for the schema matcher as much as for people: each names the field the way
legacy policy-admin systems, ACORD and OED label it, so a column called `INSD_NM` or `POL-EFF-DTE`
lands near the right target. Cross-field rules raise errors that carry the offending field name in
their context (`field`), so `validation_errors` can report a dotted path for them too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from knowledge.canonical.types import (
    ClaimStatus,
    CommunicationChannel,
    CoverageType,
    Direction,
    Factor,
    Identifier,
    IsoDate,
    Money,
    NonNegativeMoney,
    NoticeType,
    PaymentStatus,
)

FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CanonicalModel(BaseModel):
    """Base of every canonical model: immutable, unknown keys refused, padding stripped."""

    model_config = FROZEN


def check_date_order(
    model: Any, start: str = "effective_date", end: str = "expiration_date"
) -> None:
    """Raise a located error when `end` is before `start` on `model`.

    Args:
        model: a validated model instance holding both dates.
        start: the field that opens the period.
        end: the field that closes it.
    """
    first, last = getattr(model, start), getattr(model, end)
    if first is not None and last is not None and last < first:
        raise PydanticCustomError(
            "date_order",
            "{end} {last} is before {start} {first}; a period cannot end before it starts "
            "(check for swapped columns or a wrong date format such as DD/MM vs MM/DD)",
            {"field": end, "start": start, "end": end, "first": str(first), "last": str(last)},
        )


class Limits(CanonicalModel):
    """Limits of insurance of a coverage (OED Limit fields, ACORD Limit)."""

    per_occurrence: NonNegativeMoney | None = Field(
        None,
        description="Limit per occurrence / per claim / per accident / per loss: the most paid "
        "for one event; for life and property the face amount, sum insured or coverage amount. "
        "Legacy names: LMT, OCC_LMT, PER_OCC_LMT, EACH_OCC, LIMIT_AMT, COV_LMT, FACE_AMT, "
        "SUM_INSD, SI, LayerLimit.",
    )
    aggregate: NonNegativeMoney | None = Field(
        None,
        description="Aggregate limit: the most paid for all occurrences in the policy term "
        "(annual aggregate, general aggregate). Legacy names: AGG, AGG_LMT, AGGR_LIMIT, "
        "ANNUAL_AGG, GEN_AGG.",
    )

    @model_validator(mode="after")
    def _aggregate_not_below_occurrence(self) -> Limits:
        occ, agg = self.per_occurrence, self.aggregate
        if occ is not None and agg is not None and agg < occ:
            raise PydanticCustomError(
                "limit_order",
                "aggregate limit {agg} is below the per-occurrence limit {occ}; an aggregate "
                "caps all occurrences together and cannot be smaller than one occurrence "
                "(check whether the two limit columns are swapped)",
                {"field": "aggregate", "agg": str(agg), "occ": str(occ)},
            )
        return self


class Deductibles(CanonicalModel):
    """The deductible of a coverage (OED Ded fields)."""

    amount: NonNegativeMoney | None = Field(
        None,
        description="Deductible amount per claim / per occurrence the insured retains: "
        "deductible, excess, self-insured retention (SIR). Legacy names: DED, DED_AMT, "
        "DEDUCT, DEDUCTIBLE, EXCESS_AMT, SIR_AMT, PolDed6All.",
    )


class Coverage(CanonicalModel):
    """One coverage section (coverage part, insuring agreement, rider, benefit) of the policy."""

    coverage_id: Identifier | None = Field(
        None,
        description="Identifier or sequence of the coverage within the policy: coverage code, "
        "coverage number, rider number, benefit id, COV_SEQ. Legacy names: COV_ID, COV_CD, "
        "COV_NO, COV_SEQ_NBR, RIDER_NO, BENEFIT_CD.",
    )
    coverage_type: CoverageType = Field(
        description="Kind of coverage, normalised: life, health, disability, accident, property, "
        "liability, auto, workers_compensation, umbrella, marine, cyber, annuity, travel or "
        "other. Derived from line of business (LOB), coverage code, product line, plan type. "
        "Legacy names: COV_TYP, COV_TYPE_CD, LOB, LOB_CD, LINE_OF_BUS, PLAN_TYPE.",
    )
    limits: Limits | None = Field(
        None, description="Limits of insurance for this coverage (LMT group)."
    )
    deductibles: Deductibles | None = Field(
        None, description="Deductible for this coverage (DED group)."
    )
    effective_date: IsoDate | None = Field(
        None,
        description="Date this coverage starts, if different from the policy: coverage "
        "effective date, rider issue date, date added. Legacy names: COV_EFF_DT, COV_STRT_DT, "
        "RIDER_EFF_DTE.",
    )
    expiration_date: IsoDate | None = Field(
        None,
        description="Date this coverage ends: coverage expiry / expiration / termination date. "
        "Legacy names: COV_EXP_DT, COV_END_DT, COV_TERM_DTE, RIDER_EXPR_DT.",
    )

    @model_validator(mode="after")
    def _period_in_order(self) -> Coverage:
        check_date_order(self)
        return self


class RatingFactor(CanonicalModel):
    """One input to the premium calculation (territory, class, age band, credit score...)."""

    name: str = Field(
        min_length=1,
        max_length=100,
        description="Rating factor name: territory, rating class, class code, construction, "
        "protection class, age band, experience modifier (EXP_MOD), schedule credit, "
        "multi-policy discount. Legacy names: RT_FCTR_CD, RATING_VAR, FACTOR_NM.",
    )
    value: str | None = Field(
        None,
        max_length=200,
        description="Raw value of the factor as the rating engine saw it (territory 012, "
        "class 8810, tier B). Legacy names: RT_VAL, FACTOR_VALUE.",
    )
    factor: Factor | None = Field(
        None,
        description="Numeric multiplier or relativity applied to the premium (1.125, 0.90). "
        "Legacy names: FCTR, MULT, RELATIVITY, MOD.",
    )


class RatingCalculation(CanonicalModel):
    """One step of the premium build-up (base premium, surcharge, discount, tax, fee)."""

    name: str = Field(
        min_length=1,
        max_length=100,
        description="Name of the premium component or calculation step: base premium, "
        "surcharge, discount, policy fee, premium tax, minimum premium adjustment. Legacy "
        "names: CALC_STEP, PREM_COMP_CD, SURCH, DISC, FEE, TAX.",
    )
    amount: Money | None = Field(
        None,
        description="Amount this step adds to (positive) or takes off (negative) the premium. "
        "Legacy names: CALC_AMT, COMP_PREM, SURCH_AMT, DISC_AMT.",
    )
    basis: str | None = Field(
        None,
        max_length=200,
        description="How the step was computed: rate x exposure, percentage, flat amount, "
        "rating formula or table reference. Legacy names: CALC_BASIS, RATE, RT_TBL.",
    )


class PaymentRecord(CanonicalModel):
    """One payment received or attempted on the policy's billing account."""

    payment_id: Identifier | None = Field(
        None,
        description="Payment or transaction identifier: receipt number, cash transaction id, "
        "check number, EFT trace number. Legacy names: PMT_ID, PYMT_NO, RCPT_NBR, TXN_ID, CHK_NO.",
    )
    payment_date: IsoDate = Field(
        description="Date the payment was received, posted or applied. Legacy names: PMT_DT, "
        "PYMT_DTE, PAID_DT, RCVD_DT, POST_DT.",
    )
    amount: Money = Field(
        description="Payment amount in the policy currency; negative for a refund, reversal or "
        "NSF chargeback. Legacy names: PMT_AMT, PYMT_AMT, PAID_AMT, AMT_PD, RCPT_AMT.",
    )
    due_date: IsoDate | None = Field(
        None,
        description="Installment due date this payment settles. Legacy names: DUE_DT, "
        "INSTL_DUE_DTE, BILL_DUE_DT.",
    )
    method: str | None = Field(
        None,
        max_length=50,
        description="Payment method: check, EFT, ACH, credit card, cash, payroll deduction, "
        "lockbox, agency sweep. Legacy names: PMT_MTHD, PAY_METH_CD, PYMT_TYP.",
    )
    status: PaymentStatus | None = Field(
        None,
        description="Payment status: paid, pending, failed (NSF, declined), reversed, refunded "
        "or other. Legacy names: PMT_STAT, PYMT_STS_CD.",
    )


class Document(CanonicalModel):
    """A document produced for or received about the policy (declarations, ID card, form)."""

    document_id: Identifier | None = Field(
        None,
        description="Document identifier or archive key: image id, DMS key, form number "
        "instance. Legacy names: DOC_ID, DOC_NO, IMG_ID, ARCHIVE_KEY.",
    )
    document_type: str | None = Field(
        None,
        max_length=100,
        description="Kind of document: declarations page (dec page), policy jacket, ID card, "
        "endorsement form, invoice/bill, renewal offer, application. Legacy names: DOC_TYP, "
        "FORM_CD, FORM_NO, DOC_CLASS.",
    )
    title: str | None = Field(
        None,
        max_length=200,
        description="Title or description of the document. Legacy names: DOC_DESC, DOC_NM, "
        "FORM_TITLE.",
    )
    created_date: IsoDate | None = Field(
        None,
        description="Date the document was produced, printed, mailed or received. Legacy names: "
        "DOC_DT, PRINT_DT, CRT_DTE, MAIL_DT.",
    )
    uri: str | None = Field(
        None,
        max_length=500,
        description="Where the document is stored: archive path, DMS URI, image system "
        "location. Legacy names: DOC_PATH, IMG_LOC, URL.",
    )


class Communication(CanonicalModel):
    """A contact with the customer about the policy (letter, call, e-mail)."""

    communication_id: Identifier | None = Field(
        None,
        description="Identifier of the contact or correspondence item. Legacy names: COMM_ID, "
        "CORR_NO, CONTACT_ID, LTR_ID.",
    )
    channel: CommunicationChannel | None = Field(
        None,
        description="Medium: email, letter (mail), phone (call), sms (text), portal or other. "
        "Legacy names: CHNL, COMM_TYP, CONTACT_METHOD.",
    )
    direction: Direction | None = Field(
        None,
        description="inbound (from customer/agent) or outbound (to customer/agent). Legacy "
        "names: DIR, IN_OUT_IND.",
    )
    sent_date: IsoDate | None = Field(
        None,
        description="Date the communication was sent or received. Legacy names: COMM_DT, "
        "SENT_DT, RCVD_DT, CONTACT_DTE.",
    )
    subject: str | None = Field(
        None,
        max_length=200,
        description="Subject or topic of the communication. Legacy names: SUBJ, COMM_SUBJ, TOPIC.",
    )
    summary: str | None = Field(
        None,
        max_length=4000,
        description="Free-text summary, note or comment of the contact. Legacy names: CMT, "
        "NOTE_TXT, COMM_TXT, REMARKS.",
    )


class Notice(CanonicalModel):
    """A statutory or contractual notice sent on the policy (cancellation, non-renewal...)."""

    notice_id: Identifier | None = Field(
        None,
        description="Identifier of the notice. Legacy names: NTC_ID, NOTICE_NO.",
    )
    notice_type: NoticeType = Field(
        description="Kind of notice: cancellation (notice of cancellation, NOC, pending cancel "
        "for non-payment), non_renewal, renewal (offer), lapse, reinstatement, premium_due "
        "(bill, reminder) or other. Legacy names: NTC_TYP, NOTICE_CD, NTC_RSN.",
    )
    issued_date: IsoDate | None = Field(
        None,
        description="Date the notice was issued or mailed. Legacy names: NTC_DT, MAIL_DT, ISS_DTE.",
    )
    effective_date: IsoDate | None = Field(
        None,
        description="Date the notice takes effect, e.g. the cancellation effective date. Legacy "
        "names: NTC_EFF_DT, CNCL_EFF_DT.",
    )
    reason: str | None = Field(
        None,
        max_length=200,
        description="Reason for the notice: non-payment of premium, underwriting reasons, "
        "insured request. Legacy names: RSN_CD, CNCL_RSN, REASON_TXT.",
    )


class Endorsement(CanonicalModel):
    """A mid-term change to the policy (endorsement, rider, amendment)."""

    endorsement_id: Identifier = Field(
        description="Endorsement number or sequence within the policy: endorsement no, "
        "amendment number, change sequence, transaction number. Legacy names: ENDT_NO, "
        "ENDO_NBR, END_SEQ, AMND_NO, CHG_SEQ.",
    )
    endorsement_type: str | None = Field(
        None,
        max_length=100,
        description="Kind of change: add/remove vehicle, change of address, limit change, add "
        "driver, add insured, form code of the endorsement. Legacy names: ENDT_TYP, ENDO_CD, "
        "CHG_TYP, FORM_NO, TRANS_CD.",
    )
    effective_date: IsoDate | None = Field(
        None,
        description="Date the endorsement takes effect (endorsement effective date, change "
        "date). Legacy names: ENDT_EFF_DT, ENDO_EFF_DTE, CHG_DT.",
    )
    changes: str | None = Field(
        None,
        max_length=4000,
        description="Description of what the endorsement changed, as free text: the change "
        "lines (field changed, old value, new value) joined. Legacy names: ENDT_DESC, CHG_DESC, "
        "ENDO_TXT, REMARKS, CHG_LINES, CHG_FLD_CD, CHG_OLD_VAL, CHG_NEW_VAL.",
    )
    premium_change: Money | None = Field(
        None,
        description="Additional (positive) or return (negative) premium of the endorsement: "
        "AP/RP, premium change, pro-rata premium. Legacy names: ENDT_PREM, ADDL_PREM, "
        "RTN_PREM, CHG_PREM_AMT.",
    )


class ClaimLink(CanonicalModel):
    """A reference from the policy to a claim in the claims system."""

    claim_id: Identifier = Field(
        description="Claim number or claim id in the claims system. Legacy names: CLM_NO, "
        "CLM_NBR, CLAIM_ID, LOSS_NO, FILE_NO.",
    )
    loss_date: IsoDate | None = Field(
        None,
        description="Date of loss (DOL), date of accident or incident. Legacy names: DOL, "
        "LOSS_DT, ACC_DT, INCDT_DTE.",
    )
    reported_date: IsoDate | None = Field(
        None,
        description="Date the claim was reported (first notice of loss, FNOL). Legacy names: "
        "RPT_DT, FNOL_DT, RPTD_DTE.",
    )
    status: ClaimStatus | None = Field(
        None,
        description="Claim status: open, closed, reopened, denied or other. Legacy names: "
        "CLM_STAT, CLM_STS_CD.",
    )
    coverage_id: Identifier | None = Field(
        None,
        description="Coverage of this policy the claim is made under (links to "
        "coverage_sections[].coverage_id). Legacy names: CLM_COV_CD, COV_ID.",
    )
