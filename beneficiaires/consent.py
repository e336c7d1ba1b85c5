"""The consent texts shown at enrollment. Change a text → change its version."""

from django.utils.translation import gettext_lazy as _

PARTICIPATION_CONSENT_VERSION = "2026-1"

PARTICIPATION_CONSENT_TEXT = _(
    "Les renseignements recueillis (nom de la personne répondante, nombre d'adultes et "
    "d'enfants, code postal et langue préférée) servent uniquement à remettre des coupons "
    "nourriciers à votre ménage dans le cadre de ce programme. Ils sont conservés par "
    "l'organisme qui vous inscrit et par la coordination du programme seulement, pour la durée "
    "de la saison, puis rendus anonymes. Les marchand·es et les bailleurs de fonds ne voient "
    "jamais votre nom. Vous pouvez retirer votre consentement en tout temps en vous adressant à "
    "l'organisme."
)
