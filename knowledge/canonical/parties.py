"""The people on a policy: insured party, their address, and the agent of record.

Descriptions name each field the way legacy systems, ACORD and OED label it (`INSD_NM`, `ZIP`,
`ProducerName`), because the schema matcher reads them.
"""

from __future__ import annotations

from pydantic import Field

from knowledge.canonical.parts import CanonicalModel
from knowledge.canonical.types import Identifier, IsoDate


class Address(CanonicalModel):
    """A postal address (ACORD Addr aggregate)."""

    line1: str | None = Field(
        None,
        max_length=100,
        description="First street address line: house number and street, PO box. Legacy names: "
        "ADDR1, ADDR_LN_1, ADR-LINE-1, STREET, STR_ADDR, StreetAddress, MAIL_ADDR1.",
    )
    line2: str | None = Field(
        None,
        max_length=100,
        description="Second address line: apartment, suite, unit, floor, building, care of (c/o). "
        "Legacy names: ADDR2, ADDR_LN_2, ADR-LINE-2, APT, SUITE, UNIT.",
    )
    city: str | None = Field(
        None,
        max_length=50,
        description="City, town or municipality of the address. Legacy names: CITY, CTY, "
        "CITY_NM, TOWN, MUNICIPALITY.",
    )
    state: str | None = Field(
        None,
        pattern=r"^[A-Z0-9]{1,3}$",
        description="State, province or region code, upper case: USPS two-letter state code "
        "(CA, NY, TX) or the ISO 3166-2 subdivision part. Legacy names: ST, STATE, STATE_CD, "
        "ST_CD, PROV, PROVINCE, REGION, AreaCode.",
    )
    postal_code: str | None = Field(
        None,
        max_length=20,
        description="Postal code as text, leading zeros kept: US ZIP or ZIP+4 (02134, "
        "02134-1234), postcode. Legacy names: ZIP, ZIP_CD, ZIPCODE, ZIP5, PSTL_CD, POSTCODE, "
        "POSTAL_CODE, PostalCode.",
    )
    country: str | None = Field(
        None,
        pattern=r"^[A-Z]{2}$",
        description="Country as an ISO 3166-1 alpha-2 code (US, GB, DE). Legacy names: CNTRY, "
        "CTRY, COUNTRY_CD, CountryCode, NATION.",
    )


class Party(CanonicalModel):
    """A person or organisation on the policy: insured / policyholder (ACORD InsuredOrPrincipal)."""

    party_id: Identifier | None = Field(
        None,
        description="Identifier of the insured party or customer in the source system: customer "
        "number, client id, party key, named insured id. Legacy names: CUST_NO, CUST_ID, "
        "CLNT_NBR, CLIENT_ID, INSD_ID, PARTY_ID, PH_ID, NAMED_INSD_NO.",
    )
    name: str | None = Field(
        None,
        max_length=200,
        description="Full name of the insured or policyholder, person or company as printed on "
        "the declarations page: named insured, policy holder name, account name. Legacy names: "
        "INSD_NM, INSURED_NAME, NAMED_INSD, PH_NAME, CUST_NM, CLNT_NAME, AccName.",
    )
    first_name: str | None = Field(
        None,
        max_length=100,
        description="Given name (first name, forename) of an individual insured. Legacy names: "
        "FNAME, FIRST_NM, FRST_NM, GIVEN_NM, INSD_FNM.",
    )
    last_name: str | None = Field(
        None,
        max_length=100,
        description="Family name (last name, surname) of an individual insured. Legacy names: "
        "LNAME, LAST_NM, LST_NM, SURNAME, INSD_LNM.",
    )
    date_of_birth: IsoDate | None = Field(
        None,
        description="Date of birth of an individual insured, used for age rating in life, health "
        "and auto. Legacy names: DOB, BDT, BIRTH_DT, BRTH_DTE, DT_OF_BIRTH, INSD_DOB.",
    )
    address: Address | None = Field(
        None,
        description="Mailing or residence address of the insured (policy mailing address, "
        "insured address, INSD-ADDR group).",
    )
    email: str | None = Field(
        None,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="E-mail address of the insured for e-delivery of documents and notices. "
        "Legacy names: EMAIL, EML, EMAIL_ADDR, E_MAIL, INSD_EMAIL.",
    )
    phone: str | None = Field(
        None,
        max_length=32,
        description="Telephone number of the insured as text (home, mobile, work). Legacy names: "
        "PHONE, PH, PHN, TEL, TEL_NO, PHONE_NBR, HM_PHN, CELL.",
    )


class AgentInfo(CanonicalModel):
    """The producer who sold or services the policy (ACORD Producer)."""

    agent_id: Identifier | None = Field(
        None,
        description="Agent, producer or broker code/number in the carrier's producer file: "
        "agent of record, writing agent, producer code. Legacy names: AGT_NO, AGT_CD, AGENT_ID, "
        "PROD_CD, PRODUCER_CODE, BRKR_NO, WRTG_AGT.",
    )
    name: str | None = Field(
        None,
        max_length=200,
        description="Name of the agent, producer or broker of record. Legacy names: AGT_NM, "
        "AGENT_NAME, PRODUCER_NAME, ProducerName, BROKER_NM.",
    )
    agency: str | None = Field(
        None,
        max_length=200,
        description="Agency, brokerage or branch the agent belongs to: agency name or agency "
        "code. Legacy names: AGCY, AGCY_CD, AGENCY_NM, AGY_NO, BRANCH, BranchName, BROKERAGE.",
    )
