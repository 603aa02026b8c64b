"""JSON API for a user's API keys: list, create (the secret is returned once), revoke."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import ApiKey
from accounts.serializers import ApiKeyCreatedSerializer, ApiKeyCreateSerializer, ApiKeySerializer


class ApiKeyListView(APIView):
    required_scope = "write"  # managing keys: a read or infer key may not list, mint or revoke them

    @extend_schema(responses=ApiKeySerializer(many=True))
    def get(self, request):
        keys = ApiKey.objects.filter(user=request.user)
        return Response(ApiKeySerializer(keys, many=True).data)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request):
        form = ApiKeyCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        api_key, secret = services.create_api_key(
            user=request.user,
            name=form.validated_data["name"],
            scopes=form.validated_data["scopes"],
            expires_at=form.validated_data.get("expires_at"),
            created_with=request.auth if isinstance(request.auth, ApiKey) else None,
        )
        return Response({**ApiKeySerializer(api_key).data, "key": secret}, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    required_scope = "write"

    @extend_schema(request=None, responses={200: ApiKeySerializer})
    def delete(self, request, key_id: int):
        api_key = services.revoke_api_key(user=request.user, key_id=key_id)
        return Response(ApiKeySerializer(api_key).data)
