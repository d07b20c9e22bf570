"""The customer's answer page, reached from the link in the survey message (no sign-in: the link is signed)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from tenure.surveys.models import Survey, SurveyStatus
from tenure.surveys.services import AnswerError, answer, survey_for_token

SCORE_CHOICES = [(n, str(n)) for n in range(1, 6)]
FIXED_CHOICES = [("yes", "Yes, it is fixed"), ("no", "No, it is not fixed")]


class AnswerForm(forms.Form):
    score = forms.TypedChoiceField(choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect)
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: object, survey: Survey, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if survey.asks_fixed:
            self.fields["fixed"] = forms.ChoiceField(choices=FIXED_CHOICES, widget=forms.RadioSelect)
            self.fields["score"].required = False


@require_http_methods(["GET", "POST"])
def answer_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        survey = survey_for_token(token)
    except AnswerError as error:
        return render(request, "surveys/closed.html", {"reason": error.message}, status=404)
    if survey.status == SurveyStatus.ANSWERED:
        return render(request, "surveys/thanks.html", {"survey": survey, "again": True})
    form = AnswerForm(request.POST or None, survey=survey)
    if request.method == "POST" and form.is_valid():
        fixed_choice = form.cleaned_data.get("fixed")
        try:
            answered = answer(
                survey,
                score=form.cleaned_data.get("score"),
                fixed=None if fixed_choice is None else fixed_choice == "yes",
                comment=form.cleaned_data.get("comment", ""),
            )
        except AnswerError as error:
            form.add_error(None, error.message)
        else:
            return render(request, "surveys/thanks.html", {"survey": answered})
    status = 400 if request.method == "POST" else 200
    return render(request, "surveys/answer.html", {"survey": survey, "form": form}, status=status)
