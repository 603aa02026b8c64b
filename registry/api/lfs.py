"""The git-LFS batch API for large files (`HF_HUB_DISABLE_XET=1` clients), with self-authorising upload URLs.

The batch answer holds, per object, a URL signed for (user, model, sha256, size) that expires; the client PUTs
the bytes there without credentials, and the server streams them to storage while hashing."""

from django.conf import settings
from django.core import signing
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from accounts.models import User
from core.exceptions import DomainError, InvalidInput, NotAuthenticated, PayloadTooLarge
from registry import services
from registry.api.protocol import HubRequest, base_url, caller_of, error_response, hf_view, read_json, require_owner
from registry.models import Model
from registry.storage import read_request_body

LFS_CONTENT_TYPE = "application/vnd.git-lfs+json"
_SIGNER_SALT = "registry.lfs.upload"


def _lfs_json(payload: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(payload, status=status, content_type=LFS_CONTENT_TYPE)


@hf_view(methods=("POST",), scope="write")
def batch(request: HubRequest, namespace: str, name: str) -> JsonResponse:
    """POST /{ns}/{name}.git/info/lfs/objects/batch"""
    model = services.find_model(namespace=namespace, name=name, user=request.caller)
    require_owner(request, model)
    payload = read_json(request)
    if payload.get("operation") != "upload":
        raise InvalidInput("only the 'upload' operation is supported; download files with /resolve/", param="operation")
    transfers = payload.get("transfers", ["basic"])
    if not isinstance(transfers, list) or not all(isinstance(name, str) for name in transfers):
        raise InvalidInput("transfers must be a list of transfer names", param="transfers")
    if "basic" not in transfers:
        raise InvalidInput("only the 'basic' transfer is supported", param="transfers")
    objects = payload.get("objects")
    if not isinstance(objects, list) or len(objects) > 1000:
        raise InvalidInput("objects must be a list of at most 1000 items", param="objects")
    answers = []
    for item in objects:
        oid, size = (item.get("oid"), item.get("size")) if isinstance(item, dict) else (None, None)
        if not isinstance(oid, str) or len(oid) != 64 or not isinstance(size, int) or size < 0:
            raise InvalidInput("each object needs a sha256 'oid' and an integer 'size'", param="objects")
        oid = oid.lower()
        if size > settings.MAX_UPLOAD_BYTES:
            answers.append(
                {
                    "oid": oid,
                    "size": size,
                    "error": {"code": 413, "message": f"over the upload limit of {settings.MAX_UPLOAD_BYTES} bytes"},
                }
            )
            continue
        try:
            services.blob_for_reference(user=caller_of(request), sha256=oid)
            answers.append({"oid": oid, "size": size, "authenticated": True})  # already here: nothing to send
            continue
        except InvalidInput:
            pass
        token = signing.dumps({"u": caller_of(request).pk, "m": model.pk, "o": oid, "s": size}, salt=_SIGNER_SALT)
        href = base_url(request) + reverse("lfs-upload", args=[token])
        answers.append(
            {
                "oid": oid,
                "size": size,
                "authenticated": True,
                "actions": {"upload": {"href": href, "expires_in": settings.LFS_URL_TTL_SECONDS}},
            }
        )
    return _lfs_json({"transfer": "basic", "objects": answers, "hash_algo": "sha256"})


@csrf_exempt
def upload(request: HubRequest, token: str) -> JsonResponse:
    """PUT /api/lfs/upload/{signed token}: the bytes of one LFS object, streamed to storage and hashed."""
    if request.method != "PUT":
        return JsonResponse({"error": "use PUT"}, status=405)
    try:
        try:
            grant = signing.loads(token, salt=_SIGNER_SALT, max_age=settings.LFS_URL_TTL_SECONDS)
        except signing.SignatureExpired:
            raise NotAuthenticated("this upload URL has expired; ask the batch API for a new one") from None
        except signing.BadSignature:
            raise NotAuthenticated("this upload URL is not valid") from None
        user = User.objects.filter(pk=grant["u"], is_active=True).first()
        if user is None or not Model.objects.filter(pk=grant["m"], owner=user).exists():
            raise NotAuthenticated("this upload URL is no longer valid")
        size = grant["s"]
        length = request.META.get("CONTENT_LENGTH")
        if length is None or not length.isdigit():
            raise InvalidInput("Content-Length is required")
        if int(length) != size:
            if int(length) > size:
                raise PayloadTooLarge(f"body is {length} bytes but this URL is for {size}")
            raise InvalidInput(f"body is {length} bytes but this URL is for {size}")
        services.ingest_upload(
            user=user, incoming_stream=read_request_body(request, length=size), size=size, expected_sha256=grant["o"]
        )
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse({}, status=200)
