"""drf-spectacular: describe the bearer API key, so every authenticated endpoint documents it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):  # noqa: ARG002  (drf-spectacular's signature)
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from /settings/keys: `Authorization: Bearer gpts_...`.",
        }
