"""An unhappy answer to the satisfaction survey after a resolved request reopens that request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenure.helpdesk.models import Request, Status
from tenure.helpdesk.services import reopen

if TYPE_CHECKING:
    from tenure.surveys.models import Survey


def reopen_after_unhappy_answer(survey: Survey) -> None:
    _, _, request_id = survey.subject_ref.partition(":")
    if not request_id.isdigit():
        return
    request = Request.objects.filter(pk=int(request_id), customer_id=survey.customer_id).first()
    if request is None or request.status not in (Status.RESOLVED, Status.CLOSED):
        return
    reason = f"unhappy survey answer ({survey.score}/5)"
    if survey.comment:
        reason += f": {survey.comment}"
    reopen(request, reason)
