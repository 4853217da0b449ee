"""Canonical policy model v2: v1 plus the sales channel, with written premium named as such.

Changes from v1 (the migration in `knowledge.canonical.migrations` applies them):

- added `policy_core.channel` (how the policy was sold), optional;
- renamed `rating_components.premium_amount` to `rating_components.written_premium`, because
  finance reconciles written, earned and billed premium separately and "premium amount" was read
  as any of the three.
"""

from __future__ import annotations

from pydantic import Field

from knowledge.canonical.parts import (
    CanonicalModel,
    ClaimLink,
    Coverage,
    Endorsement,
    RatingCalculation,
    RatingFactor,
)
from knowledge.canonical.policy_v1 import (
    CanonicalPolicyV1,
    Correspondence,
    Payments,
    PolicyCore,
    RatingComponents,
)
from knowledge.canonical.types import Frequency, IsoDate, NonNegativeMoney, SalesChannel

VERSION = "policy_v2"


def _v1_rating(name: str) -> str | None:
    # Unchanged fields keep their v1 wording, so matcher evidence stays comparable across versions.
    return RatingComponents.model_fields[name].description


def _v1(name: str) -> str | None:
    return CanonicalPolicyV1.model_fields[name].description


class PolicyCoreV2(PolicyCore):
    """Policy header, v2: adds the sales channel."""

    channel: SalesChannel | None = Field(
        None,
        description="Distribution channel the policy was sold through: agent (captive or "
        "independent agent), broker, direct (call centre, direct writer), online (web, "
        "aggregator), bancassurance, affinity (group, employer, association) or other. Legacy "
        "names: CHNL, CHANNEL_CD, DIST_CHNL, SALES_CHNL, SRC_OF_BUS, MKT_CHNL.",
    )


class RatingComponentsV2(CanonicalModel):
    """How the premium was produced, v2: `premium_amount` is now `written_premium`."""

    written_premium: NonNegativeMoney | None = Field(
        None,
        description="Written premium for the policy term (the v1 premium_amount): total written "
        "premium, annual premium, gross premium. Legacy names: PREM, PREM_AMT, TOT_PREM, "
        "WRTN_PREM, WP, ANN_PREM, GROSS_PREM, PolGrossPremium.",
    )
    premium_frequency: Frequency | None = Field(None, description=_v1_rating("premium_frequency"))
    rating_factors: tuple[RatingFactor, ...] = Field((), description=_v1_rating("rating_factors"))
    calculations: tuple[RatingCalculation, ...] = Field((), description=_v1_rating("calculations"))
    last_rated_date: IsoDate | None = Field(None, description=_v1_rating("last_rated_date"))


class CanonicalPolicyV2(CanonicalModel):
    """One policy in canonical form, version 2 (same components as v1)."""

    policy_core: PolicyCoreV2 = Field(
        description="Policy header: number, status, term dates, product, carrier, sales "
        "channel, insured, agent."
    )
    coverage_sections: tuple[Coverage, ...] = Field((), description=_v1("coverage_sections"))
    rating_components: RatingComponentsV2 | None = Field(
        None, description="Written premium and how it was rated."
    )
    payments: Payments | None = Field(None, description=_v1("payments"))
    correspondence: Correspondence | None = Field(None, description=_v1("correspondence"))
    endorsements: tuple[Endorsement, ...] = Field((), description=_v1("endorsements"))
    claims_links: tuple[ClaimLink, ...] = Field((), description=_v1("claims_links"))
