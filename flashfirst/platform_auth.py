"""Credentials for the Gemini Enterprise Agent Platform (formerly Vertex AI) backend.

Against an explicit base URL (an emulator, a proxy) the SDK gets a static bearer token:
google-genai 3.6.1 refuses ``AnonymousCredentials`` on that path ("Anonymous credentials
cannot be refreshed"), and a static ``google.oauth2.credentials.Credentials`` is sent as
``Authorization: Bearer …`` without ever being refreshed. Against Google it uses
Application Default Credentials (``google.auth.default``) and says which identity and
project they are, or why none were found, before any call is made.
"""

from __future__ import annotations

import logging

import google.auth
import google.auth.exceptions
from google.auth.credentials import Credentials
from google.oauth2 import credentials as oauth2_credentials
from pydantic import BaseModel, Field

from flashfirst.errors import NoBackendError

logger = logging.getLogger(__name__)

# Not a secret: the emulator accepts any bearer token, and no Google endpoint accepts this.
EMULATOR_TOKEN = "flashfirst-emulator-token"
_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]

NO_ADC_HELP = (
    "no Application Default Credentials for the Agent Platform backend: run "
    "`gcloud auth application-default login` (your user), set GOOGLE_APPLICATION_CREDENTIALS "
    "to a service account's key file, or run on Google Cloud with a service account attached "
    "(it needs roles/aiplatform.user, and roles/storage.objectAdmin on the run's bucket for "
    "batch and media). To use an emulator instead, set FLASHFIRST_BACKEND__BASE_URL.")


class PlatformIdentity(BaseModel):
    """Who the platform backend calls as, and in which project: what the log line says."""

    kind: str = Field(description="static token (emulator), service account, user, "
                      "Compute Engine metadata server, external account or other.")
    principal: str | None = Field(None, description="The account's e-mail when it is known "
                                  "before the first token is fetched.")
    adc_project: str | None = Field(None, description="The project ADC names, if any.")
    project: str = Field(description="The project calls go to (the configured one).")
    location: str

    def describe(self) -> str:
        who = f"{self.kind} {self.principal}" if self.principal else self.kind
        text = f"Agent Platform calls as {who}, project {self.project}, location {self.location}"
        if self.adc_project and self.adc_project != self.project:
            text += (f" (Application Default Credentials name project {self.adc_project}; "
                     f"calls go to the configured {self.project})")
        return text


def emulator_credentials(project: str, location: str) -> tuple[Credentials, PlatformIdentity]:
    token = oauth2_credentials.Credentials(token=EMULATOR_TOKEN)
    return token, PlatformIdentity(kind="static token (emulator)", project=project,
                                   location=location)


def default_credentials(project: str, location: str) -> tuple[Credentials, PlatformIdentity]:
    """ADC, or a NoBackendError saying why there are none and how to get them."""
    try:
        found, adc_project = google.auth.default(scopes=_SCOPES)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise NoBackendError(f"{NO_ADC_HELP} (google.auth: {exc})") from None
    kind, principal = _who(found)
    identity = PlatformIdentity(kind=kind, principal=principal, adc_project=adc_project,
                                project=project, location=location)
    return found, identity


def _who(found: Credentials) -> tuple[str, str | None]:
    """The kind of credentials ADC found, and the account when it is readable offline."""
    module = type(found).__module__
    email = getattr(found, "service_account_email", None)
    if module.startswith("google.oauth2.service_account"):
        return "service account", email
    if module.startswith("google.auth.compute_engine"):
        # "default" until the metadata server is asked: say which one it will be.
        return "Compute Engine metadata server", None if email in (None, "default") else email
    if module.startswith("google.auth.impersonated_credentials"):
        return "impersonated service account", getattr(found, "_target_principal", None)
    if module.startswith("google.oauth2.credentials"):
        return "user (gcloud application-default login)", getattr(found, "account", None) or None
    if module.startswith(("google.auth.external_account", "google.auth.identity_pool",
                          "google.auth.aws", "google.auth.pluggable")):
        return "external account (workload identity federation)", email
    return type(found).__name__, email
