"""The consent texts shown at enrollment, one per purpose. Change a text → change its version.

Taking part in the program is required; being contacted and the evaluation survey are optional
and off by default.
"""

from django.utils.translation import gettext_lazy as _

PARTICIPATION_CONSENT_VERSION = "2026-2"
CONTACT_CONSENT_VERSION = "2026-1"
SURVEY_CONSENT_VERSION = "2026-1"

PARTICIPATION_CONSENT_TEXT = _(
    "Les renseignements recueillis (nom de la personne répondante, nombre d'adultes et "
    "d'enfants, code postal, langue préférée et, si vous le voulez, année de naissance) servent "
    "uniquement à remettre des coupons nourriciers à votre ménage dans le cadre de ce programme "
    "et à éviter qu'un ménage soit inscrit deux fois. Ils sont conservés, chiffrés, par "
    "l'organisme qui vous inscrit et par la coordination du programme seulement, pour la durée "
    "de la saison et la période de conservation du programme, puis rendus anonymes. Les "
    "marchand·es et les bailleurs de fonds ne voient jamais votre nom. Vous pouvez consulter, "
    "corriger ou obtenir une copie de vos renseignements, et retirer votre consentement en tout "
    "temps, en vous adressant à l'organisme."
)
CONTACT_CONSENT_TEXT = _(
    "Facultatif : l'organisme ou la coordination peut vous joindre par téléphone ou par "
    "courriel au sujet du programme (distribution des coupons, changements). Sans ce "
    "consentement, aucun téléphone ni courriel n'est noté."
)
SURVEY_CONSENT_TEXT = _(
    "Facultatif : vous acceptez de répondre à un court sondage d'évaluation au début et à la fin "
    "de la saison. Les réponses ne sont présentées que regroupées, jamais par ménage."
)

# Keyed by Consent.Purpose values (kept as strings: this module is imported by the models' app).
CONSENT_VERSIONS = {
    "participation": PARTICIPATION_CONSENT_VERSION,
    "contact": CONTACT_CONSENT_VERSION,
    "survey": SURVEY_CONSENT_VERSION,
}
CONSENT_TEXTS = {
    "participation": PARTICIPATION_CONSENT_TEXT,
    "contact": CONTACT_CONSENT_TEXT,
    "survey": SURVEY_CONSENT_TEXT,
}
OPTIONAL_PURPOSES = ("contact", "survey")
