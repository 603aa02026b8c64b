"""HF Hub protocol, reading: repo info, tree, file resolve (HEAD/GET with Range), whoami."""

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from core.exceptions import NotAuthenticated
from registry import hub_listing, hub_metadata, services
from registry.api.protocol import HubRequest, hf_view
from registry.exceptions import EntryNotFound
from registry.hub import Tree, repo_json
from registry.models import Blob, Commit, FileEntry, Model, Ref, RefKind
from registry.policy import download_policy, is_weights_file
from registry.ranges import parse_range
from registry.storage import CHUNK_SIZE, open_blob


class BlobResponse(FileResponse):
    """FileResponse with 1 MiB blocks; under WSGI servers with sendfile the kernel copies the bytes."""

    block_size = CHUNK_SIZE


def _model_and_commit(
    request: HubRequest, namespace: str, name: str, revision: str | None
) -> tuple[Model, Commit | None]:
    model = services.find_model(namespace=namespace, name=name, user=request.caller)
    if revision is None:
        return model, services.head_commit(model=model)
    return model, services.resolve_revision(model=model, revision=revision)


@hf_view(methods=("GET",), scope="read")
def model_info(request: HubRequest, namespace: str, name: str, revision: str | None = None) -> JsonResponse:
    """GET /api/models/{ns}/{name}[/revision/{rev}]"""
    model, commit = _model_and_commit(request, namespace, name, revision)
    price = download_policy().download_price(model=model, user=None)
    gated = False if price == 0 else "manual"  # weights withheld or sold: not free for anyone who can see it
    tree = Tree.of(commit)
    files = dict(tree.entries)
    described = hub_metadata.describe(files) if revision is not None else hub_metadata.of_head(model, files)
    return JsonResponse(repo_json(model=model, commit=commit, tree=tree, description=described,
                                  downloads=hub_metadata.downloads(model), gated=gated))  # fmt: skip


@hf_view(methods=("GET",), scope="read")
def model_list(request: HubRequest) -> JsonResponse:
    """GET /api/models?search=&author=&filter=&sort=&direction=&limit=&full=&cardData=&config= (HF's list_models),
    over the models the caller can see; a `Link: <…>; rel="next"` header when there are more."""
    query = hub_listing.parse(request.GET)
    page, more = hub_listing.models(user=request.caller, query=query)
    response = JsonResponse([hub_listing.model_json(model, query) for model in page], safe=False)
    if more:
        params = request.GET.copy()
        params["cursor"] = str(query.offset + query.limit)
        response["Link"] = f'<{request.build_absolute_uri(request.path)}?{params.urlencode()}>; rel="next"'
    return response


@hf_view(methods=("GET",), scope="read")
def tree(request: HubRequest, namespace: str, name: str, revision: str, path: str = "") -> JsonResponse:
    """GET /api/models/{ns}/{name}/tree/{rev}[/{path}]?recursive=true"""
    _, commit = _model_and_commit(request, namespace, name, revision)
    recursive = request.GET.get("recursive", "").lower() in ("1", "true")
    listing = Tree.of(commit).listing(path, recursive=recursive)
    if listing is None:
        raise EntryNotFound(f"{path} does not exist on {revision}")
    return JsonResponse(listing, safe=False)


@hf_view(methods=("GET", "HEAD"), scope="read")
def resolve(request: HubRequest, namespace: str, name: str, revision: str, path: str) -> HttpResponseBase:
    """HEAD|GET /{ns}/{name}/resolve/{rev}/{path}: the file's bytes, with X-Repo-Commit, ETag and Range."""
    model, commit = _model_and_commit(request, namespace, name, revision)
    entry = FileEntry.objects.filter(commit=commit, path=path).select_related("blob").first()
    if entry is None or commit is None:
        raise EntryNotFound(f"{path} does not exist on {revision}")
    if path == hub_metadata.CONFIG_PATH:  # HF Hub's download count: one per request of the top-level config.json
        hub_metadata.count_download(model)
    if is_weights_file(path):  # call-only listings withhold them; a download price is paid once
        download_policy().grant_weights(model=model, commit=commit, user=request.caller, api_key=request.api_key,
                                        pay=request.method == "GET")  # fmt: skip
    blob: Blob = entry.blob
    headers = {
        "X-Repo-Commit": commit.sha,
        "ETag": f'"{blob.sha256}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=0" if model.is_private else "public, max-age=0",
    }
    if request.headers.get("If-None-Match", "").strip('"') == blob.sha256:
        return _with_headers(HttpResponse(status=304), headers)
    range_header = request.headers.get("Range")
    span = parse_range(range_header, blob.size) if range_header else None
    response: HttpResponseBase
    if span == "unsatisfiable":
        response = JsonResponse({"error": "requested range not satisfiable"}, status=416)
        response["Content-Range"] = f"bytes */{blob.size}"
        return _with_headers(response, headers)
    if request.method == "HEAD":
        response = HttpResponse(status=200, content_type="application/octet-stream")
        response["Content-Length"] = str(blob.size)
        return _with_headers(response, headers)
    if span is None:
        response = BlobResponse(open_blob(blob), content_type="application/octet-stream")
        response["Content-Length"] = str(blob.size)
        return _with_headers(response, headers)
    start, end = span
    response = StreamingHttpResponse(_read_span(blob, start, end), status=206, content_type="application/octet-stream")
    response["Content-Length"] = str(end - start + 1)
    response["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    return _with_headers(response, headers)


def _with_headers(response: HttpResponseBase, headers: dict[str, str]) -> HttpResponseBase:
    for key, value in headers.items():
        response[key] = value
    return response


def _read_span(blob: Blob, start: int, end: int):
    with open_blob(blob) as handle:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


@hf_view(methods=("GET",), scope="read")
def refs(request: HubRequest, namespace: str, name: str) -> JsonResponse:
    """GET /api/models/{ns}/{name}/refs: branches and tags with the commits they point at."""
    model = services.find_model(namespace=namespace, name=name, user=request.caller)
    listing: dict[str, list] = {"branches": [], "tags": [], "converts": [], "pullRequests": []}
    for ref in Ref.objects.filter(model=model).select_related("commit").order_by("kind", "name"):
        group, prefix = ("branches", "refs/heads/") if ref.kind == RefKind.BRANCH else ("tags", "refs/tags/")
        listing[group].append({"name": ref.name, "ref": prefix + ref.name, "targetCommit": ref.commit.sha})
    return JsonResponse(listing)


@hf_view(methods=("GET",), login_required=True)
def whoami(request: HubRequest) -> JsonResponse:
    """GET /api/whoami-v2: who the token belongs to, as `hf auth whoami` expects."""
    user, api_key = request.caller, request.api_key
    if user is None:
        raise NotAuthenticated("Invalid user token.")
    role = "write" if api_key is None or api_key.has_scope("write") else "read"
    return JsonResponse(
        {
            "type": "user",
            "id": str(user.pk),
            "name": user.username,
            "fullname": user.get_full_name() or user.username,
            "email": user.email or None,
            "emailVerified": False,
            "isPro": False,
            "orgs": [],
            "auth": {
                "type": "access_token",
                "accessToken": {
                    "displayName": api_key.name if api_key else "browser session",
                    "role": role,
                    "scopes": api_key.scopes if api_key else ["read", "write", "infer", "finetune"],
                },
            },
        }
    )
