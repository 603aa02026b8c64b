"""JSON API behind the provider portal: resumable uploads, committing them, and live validation status."""

from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ScopeRequired
from core.exceptions import InvalidInput
from registry import services, uploads
from registry.exceptions import RepoNotFound
from registry.models import Commit, UploadSession


def _own_model(request, repo_id: str):
    namespace, _, name = (repo_id or "").partition("/")
    model = services.find_model(namespace=namespace, name=name, user=request.user)
    if model.owner_id != request.user.pk:
        raise RepoNotFound(f"Repository not found: {repo_id}")
    return model


class ValidationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="validation_status")
    error = serializers.CharField(source="validation_error")
    report = serializers.JSONField(source="validation_report")

    class Meta:
        model = Commit
        fields = ["sha", "status", "error", "report"]
        read_only_fields = fields


class UploadSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = UploadSession
        fields = ["id", "path", "size", "received"]
        read_only_fields = fields


REPO_ID = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*\Z", "a repository id: owner/name")


class StartUploadSerializer(serializers.Serializer):
    repo = serializers.CharField(help_text="owner/name", validators=[REPO_ID])
    path = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=0)


class CommitUploadsSerializer(serializers.Serializer):
    repo = serializers.CharField(help_text="owner/name", validators=[REPO_ID])
    uploads = serializers.ListField(child=serializers.IntegerField(), allow_empty=False, min_length=1, max_length=1000)
    message = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                    validators=[RegexValidator(r"^[^\x00]*\Z", "no NUL characters")])  # fmt: skip


class UploadListView(APIView):
    required_scope = "write"

    @extend_schema(request=StartUploadSerializer, responses={201: UploadSessionSerializer})
    def post(self, request):
        form = StartUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        model = _own_model(request, form.validated_data["repo"])
        session = uploads.start_upload(
            user=request.user, model=model, path=form.validated_data["path"], size=form.validated_data["size"]
        )
        return Response(UploadSessionSerializer(session).data, status=201)


class UploadDetailView(APIView):
    required_scope = "write"

    @extend_schema(responses=UploadSessionSerializer)
    def get(self, request, upload_id: int):
        session = UploadSession.objects.filter(pk=upload_id, owner=request.user).first()
        if session is None:
            raise RepoNotFound("no such upload")
        return Response(UploadSessionSerializer(session).data)

    @extend_schema(
        request={"application/octet-stream": bytes},
        responses=UploadSessionSerializer,
        parameters=[OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True,
                                     description="where this chunk starts (409 with the server's offset if wrong)")],
    )  # fmt: skip
    def put(self, request, upload_id: int):
        """Append a chunk. Header `Upload-Offset: N` says where it starts; a wrong offset answers 409."""
        try:
            offset = int(request.headers.get("Upload-Offset", ""))
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise InvalidInput("Upload-Offset and Content-Length must be integers") from None
        session = uploads.append_chunk(
            session_id=upload_id, user=request.user, offset=offset, stream=request._request, length=length
        )
        return Response(UploadSessionSerializer(session).data)


class CommitUploadsView(APIView):
    required_scope = "write"

    @extend_schema(request=CommitUploadsSerializer, responses={201: dict})
    def post(self, request):
        form = CommitUploadsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        model = _own_model(request, form.validated_data["repo"])
        commit = uploads.commit_uploads(
            user=request.user,
            model=model,
            session_ids=form.validated_data["uploads"],
            message=form.validated_data.get("message") or "Upload files from the portal",
        )
        return Response({"sha": commit.sha, "validation_status": commit.validation_status}, status=201)


class ValidationView(APIView):
    permission_classes = [ScopeRequired]  # anyone who can see the model, but a key needs `read` (`write` to ask)
    required_scope = {"GET": "read", "POST": "write"}

    def _commit(self, request, namespace: str, name: str, sha: str) -> Commit:
        model = services.find_model(namespace=namespace, name=name, user=request.user)
        commit = Commit.objects.filter(model=model, sha=sha).select_related("model").first()
        if commit is None:
            raise RepoNotFound("no such commit")
        return commit

    @extend_schema(responses=ValidationSerializer)
    def get(self, request, namespace: str, name: str, sha: str):
        return Response(ValidationSerializer(self._commit(request, namespace, name, sha)).data)

    @extend_schema(request=None, responses={202: ValidationSerializer})
    def post(self, request, namespace: str, name: str, sha: str):
        """The owner asks for an invalid commit to be validated again; the answer is its new state."""
        commit = self._commit(request, namespace, name, sha)
        if commit.model.owner_id != request.user.pk:
            raise RepoNotFound(f"Repository not found: {namespace}/{name}")
        commit = services.request_validation(commit_id=commit.pk, by=request.user)
        return Response(ValidationSerializer(commit).data, status=202)
