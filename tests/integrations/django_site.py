"""A Django project in one module (settings, views, URLs) for the Django recipe:
docs/integrations.md. Its users sign in with Django's own sessions."""

from __future__ import annotations

import json
import os
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from tests.integrations.world import profile_of, search_results

# --- settings ---------------------------------------------------------------------------

SECRET_KEY = "recipe-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["RECIPE_DJANGO_DATABASE"]}}

# --- views ------------------------------------------------------------------------------

delivered: list[dict[str, Any]] = []


def send_message(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Not signed in"}, status=401)
    delivered.append(json.loads(request.body))
    return JsonResponse({"sent": True}, status=201)


def profile(request: HttpRequest, user_id: int) -> HttpResponse:
    found = profile_of(user_id)
    if found is None:
        raise Http404()
    return JsonResponse(found)


def search(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"results": search_results()})


urlpatterns = [
    path("api/messages", send_message),
    path("api/users/<int:user_id>", profile),
    path("api/search", search),
]
