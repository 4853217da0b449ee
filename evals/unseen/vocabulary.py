"""The unseen-source generator's own words: how other shops name each canonical field.

Written for the evaluation only, independently of ``knowledge/`` (the glossary, code tables and
canonical descriptions the matcher uses): never copy a phrase from here into ``knowledge/``, and
never tune the matcher to one of them (see ``docs/evals.md``, "Unseen sources"). Each field has
several phrasings (plain English words, most specific first); the generator picks one per seed
and then writes it in a naming convention (``evals.unseen.conventions``).
"""

from __future__ import annotations

PHRASES: dict[str, tuple[str, ...]] = {
    # policy header (root file)
    "policy_core.policy_id": ("policy number", "contract number", "policy reference"),
    "policy_core.status": ("policy status", "contract status", "status"),
    "policy_core.effective_date": ("inception date", "start date", "cover start date"),
    "policy_core.expiration_date": ("expiry date", "end date", "cover end date"),
    "policy_core.issue_date": ("issue date", "date issued", "written date"),
    "policy_core.policy_type": ("product", "line of business", "product line"),
    "policy_core.carrier": ("writing company", "issuing company", "underwriting company"),
    "policy_core.insured_party.name": ("policyholder name", "insured name", "named insured"),
    "policy_core.insured_party.date_of_birth": ("birth date", "date of birth"),
    "policy_core.insured_party.address.line1": ("street", "street address", "address line 1"),
    "policy_core.insured_party.address.city": ("city", "town"),
    "policy_core.insured_party.address.state": ("state", "province", "state code"),
    "policy_core.insured_party.address.postal_code": ("postal code", "zip code", "post code"),
    "policy_core.insured_party.email": ("email address", "email"),
    "policy_core.insured_party.phone": ("phone number", "telephone"),
    "policy_core.agent_info.agent_id": ("producer code", "broker number", "writing agent code"),
    "policy_core.agent_info.name": ("producer name", "broker name"),
    "rating_components.premium_amount": ("annual premium", "written premium", "total premium"),
    "rating_components.premium_frequency": ("premium mode", "mode of premium"),
    "payments.outstanding_balance": ("balance due", "amount outstanding"),
    # coverage lines (child file, or a nested list)
    "coverage_sections[].coverage_id": ("coverage sequence", "line number", "coverage number"),
    "coverage_sections[].coverage_type": ("coverage code", "coverage kind", "coverage"),
    "coverage_sections[].limits.per_occurrence": ("limit", "occurrence limit", "sum insured"),
    "coverage_sections[].deductibles.amount": ("deductible", "deductible amount"),
    # payment transactions (child file, or a nested list)
    "payments.payment_history[].payment_id": ("transaction id", "receipt number"),
    "payments.payment_history[].payment_date": ("payment date", "date received"),
    "payments.payment_history[].amount": ("amount", "amount paid"),
    "payments.payment_history[].method": ("method", "payment method"),
    "payments.payment_history[].status": ("status", "transaction status"),
}
"""Canonical path -> phrasings (the ground truth of every column written from them)."""

NOISE: tuple[tuple[str, ...], ...] = (
    ("last changed by", "updated by"),
    ("batch number", "load batch"),
    ("record created", "created timestamp"),
)
"""Columns no canonical field holds (ground truth null): audit stamps, load batches."""

FRENCH: dict[str, str] = {
    "policy number": "Numéro de police",
    "contract number": "Numéro de contrat",
    "policy reference": "Référence police",
    "policy status": "Statut de la police",
    "contract status": "État du contrat",
    "status": "Statut",
    "inception date": "Date d'effet",
    "start date": "Date de début",
    "cover start date": "Date de prise d'effet",
    "expiry date": "Date d'échéance",
    "end date": "Date de fin",
    "cover end date": "Date de fin de garantie",
    "issue date": "Date d'émission",
    "date issued": "Date de souscription",
    "written date": "Date de souscription",
    "product": "Produit",
    "line of business": "Branche",
    "product line": "Gamme de produit",
    "writing company": "Compagnie",
    "issuing company": "Compagnie émettrice",
    "underwriting company": "Assureur",
    "policyholder name": "Nom du souscripteur",
    "insured name": "Nom de l'assuré",
    "named insured": "Assuré",
    "birth date": "Date de naissance",
    "date of birth": "Date de naissance",
    "street": "Rue",
    "street address": "Adresse",
    "address line 1": "Adresse ligne 1",
    "city": "Ville",
    "town": "Commune",
    "state": "Région",
    "province": "Province",
    "state code": "Code région",
    "postal code": "Code postal",
    "zip code": "Code postal",
    "post code": "Code postal",
    "email address": "Adresse e-mail",
    "email": "Courriel",
    "phone number": "Numéro de téléphone",
    "telephone": "Téléphone",
    "producer code": "Code apporteur",
    "broker number": "Numéro de courtier",
    "writing agent code": "Code intermédiaire",
    "producer name": "Nom de l'apporteur",
    "broker name": "Nom du courtier",
    "annual premium": "Prime annuelle",
    "written premium": "Prime émise",
    "total premium": "Prime totale",
    "premium mode": "Fractionnement",
    "mode of premium": "Périodicité de la prime",
    "balance due": "Solde dû",
    "amount outstanding": "Montant restant dû",
    "coverage sequence": "N° de garantie",
    "line number": "Numéro de ligne",
    "coverage number": "Numéro de garantie",
    "coverage code": "Code garantie",
    "coverage kind": "Type de garantie",
    "coverage": "Garantie",
    "limit": "Plafond",
    "occurrence limit": "Plafond par sinistre",
    "sum insured": "Capital assuré",
    "deductible": "Franchise",
    "deductible amount": "Montant de franchise",
    "transaction id": "N° de transaction",
    "receipt number": "Numéro de quittance",
    "payment date": "Date de paiement",
    "date received": "Date d'encaissement",
    "amount": "Montant",
    "amount paid": "Montant payé",
    "method": "Mode",
    "payment method": "Mode de paiement",
    "transaction status": "Statut de la transaction",
    "last changed by": "Modifié par",
    "updated by": "Mis à jour par",
    "batch number": "Numéro de lot",
    "load batch": "Lot de chargement",
    "record created": "Date de création",
    "created timestamp": "Horodatage de création",
}
"""French column headers for the phrasings (a French-speaking carrier's extract)."""

VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "status": {
        "en": ("In Force", "Lapsed", "Cancelled", "Pending", "Expired"),
        "fr": ("En vigueur", "Résilié", "Suspendu", "En attente", "Échu"),
    },
    "product": {
        "en": ("HOMEOWNERS", "PERSONAL AUTO", "UMBRELLA", "TERM LIFE", "COMMERCIAL PROPERTY"),
        "fr": ("Multirisque habitation", "Automobile", "Responsabilité civile", "Prévoyance"),
    },
    "coverage_kind": {
        "en": (
            "DWELLING",
            "PERSONAL PROPERTY",
            "BODILY INJURY",
            "COLLISION",
            "COMPREHENSIVE",
            "LOSS OF USE",
        ),
        "fr": ("Incendie", "Dégâts des eaux", "Vol", "Bris de glace", "Responsabilité civile"),
    },
    "frequency": {
        "en": ("Monthly", "Quarterly", "Annual", "Semi-Annual"),
        "fr": ("Mensuel", "Trimestriel", "Annuel", "Semestriel"),
    },
    "method": {
        "en": ("CHECK", "EFT", "CREDIT CARD", "CASH"),
        "fr": ("Prélèvement", "Chèque", "Virement", "Carte bancaire"),
    },
    "txn_status": {
        "en": ("POSTED", "RETURNED", "REVERSED", "PENDING"),
        "fr": ("Encaissé", "Rejeté", "Annulé", "En cours"),
    },
    "company": {
        "en": ("Granite Mutual", "Harbor Casualty Co", "Northfield Indemnity"),
        "fr": ("Mutuelle du Littoral", "Assurances Alpines", "Compagnie Rhodanienne"),
    },
}
"""Value sets per kind of coded field and language (not the code tables' codes)."""
