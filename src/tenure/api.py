"""The JSON API under /api/v1: one NinjaAPI, a router per app, JSON errors that name the field."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader, HttpBearer, django_auth

from tenure.core.services import user_for_token


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class HeaderToken(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = user_for_token(key or "")
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Tenure API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), HeaderToken(), django_auth],
    docs_url="/docs",
)


def _error(request: HttpRequest, status: int, errors: list[dict[str, str]]) -> HttpResponse:
    return api.create_response(request, {"errors": errors}, status=status)


@api.exception_handler(NinjaValidationError)
def on_schema_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        # ninja reports ("body", "payload", "field", ...); the first two parts say nothing to the caller.
        location = [
            str(part) for part in error.get("loc", ()) if part not in ("body", "payload", "query", "path")
        ]
        errors.append({"field": ".".join(location) or "body", "message": error.get("msg", "invalid")})
    return _error(request, 422, errors)


@api.exception_handler(ValidationError)
def on_domain_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": field, "message": message}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        errors = [{"field": "", "message": message} for message in exc.messages]
    return _error(request, 422, errors)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = "missing or invalid API token; send 'Authorization: Bearer <token>'"
    return _error(request, 401, [{"field": "Authorization", "message": message}])


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, [{"field": "", "message": str(exc) or "your role does not allow this"}])


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, [{"field": "body", "message": "request body is too large"}])


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, [{"field": "", "message": str(exc)}])


def _register_routers() -> None:
    from tenure.customers.api import router as customers_router
    from tenure.customers.api_imports import router as imports_router

    api.add_router("/", customers_router)
    api.add_router("/", imports_router)
    from tenure.field.api import router as field_router

    api.add_router("/", field_router)
    from tenure.helpdesk.api import router as helpdesk_router

    api.add_router("/", helpdesk_router)
    from tenure.journeys.api import router as journeys_router

    api.add_router("/", journeys_router)
    from tenure.inbox.api import router as inbox_router

    api.add_router("/", inbox_router)


_register_routers()
