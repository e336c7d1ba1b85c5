"""The evaluation survey's form: the six questions of the short form, in plain French, and the
fruit and vegetable servings. It checks the input's shape; `beneficiaires.survey` applies the
rules (AD1a only after a yes, consent, one answer per phase)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from beneficiaires.models import SurveyResponse
from beneficiaires.survey import MAX_SERVINGS, SurveyAnswers


class SurveyForm(forms.Form):
    """Read each question to the person as written; the answers are coded as the short form's."""

    food_did_not_last = forms.ChoiceField(
        label=_(
            "1. « La nourriture que nous avions achetée n'a pas duré, et nous n'avions pas "
            "d'argent pour en racheter. » Au cours des 30 derniers jours, était-ce souvent "
            "vrai, parfois vrai ou jamais vrai pour votre ménage ?"
        ),
        choices=SurveyResponse.Frequency.choices,
        widget=forms.RadioSelect,
    )
    balanced_meals = forms.ChoiceField(
        label=_(
            "2. « Nous n'avions pas les moyens de manger des repas équilibrés. » Au cours des "
            "30 derniers jours, était-ce souvent vrai, parfois vrai ou jamais vrai pour votre "
            "ménage ?"
        ),
        choices=SurveyResponse.Frequency.choices,
        widget=forms.RadioSelect,
    )
    cut_or_skipped_meals = forms.ChoiceField(
        label=_(
            "3. Au cours des 30 derniers jours, vous ou d'autres adultes de votre ménage "
            "avez-vous déjà mangé des portions plus petites ou sauté des repas parce qu'il n'y "
            "avait pas assez d'argent pour la nourriture ?"
        ),
        choices=SurveyResponse.YesNo.choices,
        widget=forms.RadioSelect,
    )
    cut_or_skipped_days = forms.ChoiceField(
        label=_(
            "4. Si oui à la question 3 : combien de jours est-ce arrivé au cours des 30 derniers "
            "jours ?"
        ),
        choices=SurveyResponse.Days.choices,
        widget=forms.RadioSelect,
        required=False,
        help_text=_("Laissez sans réponse si la réponse à la question 3 est « non »."),
    )
    ate_less = forms.ChoiceField(
        label=_(
            "5. Au cours des 30 derniers jours, avez-vous déjà mangé moins que vous auriez dû, "
            "selon vous, parce qu'il n'y avait pas assez d'argent pour la nourriture ?"
        ),
        choices=SurveyResponse.YesNo.choices,
        widget=forms.RadioSelect,
    )
    hungry = forms.ChoiceField(
        label=_(
            "6. Au cours des 30 derniers jours, avez-vous déjà eu faim sans manger parce qu'il "
            "n'y avait pas assez d'argent pour la nourriture ?"
        ),
        choices=SurveyResponse.YesNo.choices,
        widget=forms.RadioSelect,
    )
    fruit_vegetable_servings = forms.DecimalField(
        label=_(
            "7. En moyenne, combien de portions de fruits et de légumes mangez-vous par jour ?"
        ),
        help_text=_(
            "Une portion : un fruit ou un légume moyen, une demi-tasse (125 ml) de fruits ou de "
            "légumes, une tasse (250 ml) de salade. De 0 à 20; laissez vide si la personne ne "
            "sait pas ou préfère ne pas répondre."
        ),
        required=False,
        min_value=0,
        max_value=MAX_SERVINGS,
        max_digits=3,
        decimal_places=1,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def answers(self) -> SurveyAnswers:
        data = self.cleaned_data
        return SurveyAnswers(
            food_did_not_last=data["food_did_not_last"],
            balanced_meals=data["balanced_meals"],
            cut_or_skipped_meals=data["cut_or_skipped_meals"],
            cut_or_skipped_days=data.get("cut_or_skipped_days") or "",
            ate_less=data["ate_less"],
            hungry=data["hungry"],
            fruit_vegetable_servings=data.get("fruit_vegetable_servings"),
        )
