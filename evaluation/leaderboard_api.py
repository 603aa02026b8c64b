"""`GET /api/v1/leaderboard`: the leaderboard page's rows as JSON, with the same query string."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ScopeRequired
from evaluation import leaderboard, standard_set
from marketplace.services.catalogue import PARAMETER_BANDS


class LeaderboardView(APIView):
    permission_classes = [AllowAny, ScopeRequired]  # public, as the catalogue; a key needs 'read' or 'infer'
    required_scope = ("read", "infer")

    @extend_schema(
        parameters=[OpenApiParameter("sort", str, enum=list(leaderboard.COLUMNS)),
                    OpenApiParameter("order", str, enum=["asc", "desc"]),
                    OpenApiParameter("params", str, enum=list(PARAMETER_BANDS)),
                    OpenApiParameter("downloadable", str, enum=["0", "1"])],
        responses={200: dict},
    )  # fmt: skip
    def get(self, request):
        query = leaderboard.parse(request.query_params)
        return Response({"object": "list", "dataset": standard_set.load().describe(), "sort": query.sort,
                         "order": "desc" if query.descending else "asc",
                         "data": [leaderboard.row_json(row) for row in leaderboard.rows(query)]})  # fmt: skip
