"""`GET /api/v1/models/{ns}/{name}/lineage`: the JSON twin of the model page's lineage graph: ancestors of the
revision, the model, and its descendants the caller may see, each with its key figures, and, for a compressed
revision, its trade-off against its parent. Anyone who may see the model may read it; a key needs `read`."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ScopeRequired
from compression import lineage
from evaluation.api import REVISION, commit_of


class LineageView(APIView):
    permission_classes = [AllowAny, ScopeRequired]
    required_scope = {"GET": "read"}

    @extend_schema(parameters=[REVISION], responses={200: dict})
    def get(self, request, namespace: str, name: str):
        model, commit = commit_of(request, namespace, name)
        nodes = lineage.family(model, commit, viewer=request.user)
        found = lineage.tradeoff(commit)
        return Response({
            "object": "model.lineage", "model": model.repo_id, "commit": commit.sha,
            "ancestors": [node.as_json() for node in nodes if node.depth < 0],
            "descendants": [node.as_json() for node in nodes if node.depth > 0],
            "tradeoff": None if found is None else {
                "parent": f"{found.parent.model.repo_id}@{found.parent.sha}", "same_device": found.same_device,
                "device": found.device,
                "rows": [{key: row[key] for key in ("key", "value", "parent", "ratio")} for row in found.rows]},
        })  # fmt: skip
