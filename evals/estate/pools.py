"""Value pools and the code tables each legacy system uses for the same canonical values."""

from __future__ import annotations

import unicodedata

FIRST_NAMES = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "José",
    "Zoë",
    "Renée",
    "André",
    "Jürgen",
    "François",
    "Søren",
    "Inés",
    "Björn",
    "Chloé",
    "Ana",
    "Luis",
    "Mei",
    "Hiroshi",
    "Fatima",
    "Omar",
    "Priya",
    "Raj",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Müller",
    "Beaulieu-Lévesque",
    "Núñez",
    "O'Brien",
    "Gauthier",
    "Schröder",
    "Ødegaard",
    "Peña",
    "Côté",
    "Da Silva",
    "Nguyen",
    "Kowalski",
]
COMPANY_NAMES = [
    "Acme Tooling Inc",
    "Blue Ridge Logistics LLC",
    "Smith & Sons Roofing",
    "Harbor Foods Co",
    "Northwind Traders",
    "Pioneer Dental Group",
    "Café Lumière LLC",
    "Summit Realty Partners",
    "Great Lakes Marine",
    "Redwood Construction",
    "Müller Bäckerei Inc",
    "Keystone Auto Body",
    "Silver Creek Farms",
    "Bright Path Daycare",
    "Atlas Freight & Storage",
    "Copper Kettle Diner",
]
STREETS = [
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Pine St",
    "Elm St",
    "Washington Blvd",
    "Lake Shore Dr",
    "Hillcrest Rd",
    "Sunset Blvd",
    "Park Ave",
    "River Rd",
    "Church St",
    "Rue Saint-Jérôme",
    "Mill Pond Way",
    "Highland Ave",
]
# (city, state, zip prefix 3 digits)
CITIES = [
    ("Springfield", "IL", "627"),
    ("Columbus", "OH", "432"),
    ("Austin", "TX", "787"),
    ("Sacramento", "CA", "958"),
    ("Albany", "NY", "122"),
    ("Tallahassee", "FL", "323"),
    ("Denver", "CO", "802"),
    ("Phoenix", "AZ", "850"),
    ("Boston", "MA", "021"),
    ("Atlanta", "GA", "303"),
    ("Seattle", "WA", "981"),
    ("Portland", "OR", "972"),
    ("Nashville", "TN", "372"),
    ("Raleigh", "NC", "276"),
    ("Madison", "WI", "537"),
    ("Harrisburg", "PA", "171"),
    ("Trenton", "NJ", "086"),
    ("Richmond", "VA", "232"),
    ("Lansing", "MI", "489"),
    ("Saint Paul", "MN", "551"),
]
UNITS = ["Apt 1A", "Apt 2B", "Suite 100", "Unit 5", "Fl 3", "Apt 4C", "Suite 210", "Unit 12"]
CARRIERS = ["Northstar Mutual", "Keystone Casualty", "Prairie Life & Annuity", "Harbor Indemnity"]
AGENCIES = [
    "Main Street Insurance",
    "Lakeside Agency",
    "Allied Brokers",
    "Pinnacle Risk Partners",
    "Cornerstone Insurance Group",
    "Liberty Square Agency",
    "Coastal Coverage",
    "Frontier Agency",
]
N_AGENTS = 400

# Canonical value lists (indices are what the universe draws).
STATUSES = ["active", "inactive", "pending", "cancelled", "expired"]
STATUS_WEIGHTS = [0.72, 0.05, 0.05, 0.08, 0.10]
PC_TYPES = ["auto", "home", "commercial_property", "general_liability", "umbrella"]
PC_TYPE_WEIGHTS = [0.38, 0.32, 0.12, 0.12, 0.06]
LIFE_TYPES = ["term_life", "whole_life", "universal_life"]
FREQUENCIES = ["annual", "semi_annual", "quarterly", "monthly"]
COVERAGE_TYPES = ["property", "liability", "collision", "comprehensive", "medical", "umbrella"]
# Coverage types drawn per policy type (index into COVERAGE_TYPES), up to three slots.
COVERAGES_BY_TYPE = {
    "auto": [1, 2, 3],
    "home": [0, 1, 4],
    "commercial_property": [0, 1, 4],
    "general_liability": [1, 4, 0],
    "umbrella": [5, 1, 4],
}
LIMITS_CENTS = [10_000_000, 25_000_000, 50_000_000, 100_000_000, 200_000_000]
DEDUCTIBLES_CENTS = [25_000, 50_000, 100_000, 250_000]
DOC_TYPES = ["notice", "letter", "statement", "renewal_offer", "cancellation_notice", "email"]
CHANNELS = ["MAIL", "EMAIL", "PORTAL", "SMS"]
CLAIM_STATUSES = ["OPEN", "CLOSED", "REOPENED", "DENIED"]
CAUSES_OF_LOSS = ["collision", "hail", "water_damage", "theft", "fire", "slip_and_fall", "wind"]
ENDORSEMENT_TYPES = ["address_change", "add_vehicle", "limit_change", "add_insured", "cancel"]
ENDORSE_FIELDS = ["ADDR", "VEHICLE", "LIMIT", "INSURED", "STATUS", "DEDUCT", "PREMIUM"]
PLAN_NAMES = ["BASIC", "STANDARD", "PLUS", "DIRECT"]

# System code tables: position i encodes canonical value i of the list named in the key.
CODES = {
    "policy_master.status": ["A", "I", "P", "C", "E"],
    "policy_master.policy_type": ["AUT", "HOM", "CPR", "CGL", "UMB"],
    "policy_master.frequency": ["A", "S", "Q", "M"],
    "policy_master.coverage_type": ["PRP", "LIA", "COL", "CMP", "MED", "UMB"],
    "policy_master.carrier": ["NSTM", "KCAS", "PRLA", "HIND"],
    "billing.frequency": ["1", "2", "4", "12"],
    "billing.plan": ["DIR", "EFT", "AGB", "PAY"],
    "agency.status": ["Active", "Inactive", "Pending", "Cancelled", "Expired"],
    "agency.policy_type": [
        "Personal Auto",
        "Homeowners",
        "Commercial Property",
        "General Liability",
        "Umbrella",
    ],
    "agency.frequency": ["Annual", "Semi-Annual", "Quarterly", "Monthly"],
    "life.status": ["IF", "LP", "PN", "SU", "MA"],
    "life.policy_type": ["T20", "WL1", "UL5"],
    "life.frequency": ["A", "SA", "Q", "M"],
    "acquired.status": ["ACT", "INA", "PND", "CAN", "EXP"],
    "acquired.policy_type": ["PA", "HO", "CP", "GL", "UM"],
    "acquired.frequency": ["annual", "semiannual", "quarterly", "monthly"],
    "acquired.coverage_type": ["PROP", "LIAB", "COLL", "COMP", "MEDP", "UMBR"],
    "endorsements.type": ["AC", "AV", "LC", "AI", "CN"],
    "correspondence.doc_type": ["NTC", "LTR", "STM", "RNW", "CNX", "EML"],
}
CANONICAL_FOR = {
    "status": STATUSES,
    "policy_type": PC_TYPES,
    "frequency": FREQUENCIES,
    "coverage_type": COVERAGE_TYPES,
    "plan": ["direct_bill", "electronic_funds_transfer", "agency_bill", "payroll_deduction"],
    "type": ENDORSEMENT_TYPES,
    "doc_type": DOC_TYPES,
    "carrier": CARRIERS,
}


def code_table(key: str, canonical: list[str] | None = None) -> dict[str, str]:
    """The ``{system code: canonical value}`` table for a key of :data:`CODES`."""
    if canonical is None:
        canonical = CANONICAL_FOR[key.split(".", 1)[1]]
    return dict(zip(CODES[key], canonical, strict=True))


def _slug(text: str) -> str:

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


FIRST_SLUGS = [_slug(n) for n in FIRST_NAMES]
LAST_SLUGS = [_slug(n) for n in LAST_NAMES]
