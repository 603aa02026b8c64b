"""Finding an API key and its user by the key's hash, on every /v1 call, without the ORM's per-call cost.

`ApiKey.objects.select_related("user").filter(key_hash=...)` spends most of its time in Python: 0.75 ms per
lookup against 0.21 ms for the same SQL run directly (docs/benchmarks.md). Here Django's own compiler builds the
SQL and the column converters once per process and database; each lookup runs the statement on Django's cursor
(so it is logged and counted like any query) and builds the two objects with `Model.from_db`, as the ORM does."""

import dataclasses
import functools

from django.db import connection
from django.db.models.sql.compiler import SQLCompiler

from accounts.models import ApiKey, User


@dataclasses.dataclass(frozen=True)
class _Compiled:
    sql: str
    converters: dict
    compiler: SQLCompiler
    key_fields: tuple[str, ...]
    key_columns: tuple[int, ...]  # where the key's fields are in a row
    user_fields: tuple[str, ...]
    user_columns: tuple[int, ...]


@functools.cache
def _compiled(alias: str, vendor: str) -> _Compiled:  # noqa: ARG001  (the cache key: one per database)
    queryset = ApiKey.objects.select_related("user").filter(key_hash="").order_by()
    compiler = queryset.query.get_compiler(connection=connection)
    sql, _ = compiler.as_sql()
    key_info = compiler.klass_info
    user_info = next(info for info in key_info["related_klass_infos"] if info["model"] is User)

    def names(info) -> tuple[str, ...]:
        return tuple(compiler.select[index][0].target.attname for index in info["select_fields"])

    converters = compiler.get_converters([column for column, _, _ in compiler.select])
    return _Compiled(sql, converters, compiler, names(key_info), tuple(key_info["select_fields"]), names(user_info),
                     tuple(user_info["select_fields"]))  # fmt: skip


def find_key(key_hash: str) -> ApiKey | None:
    """The key with this hash, its `user` loaded, or None."""
    compiled = _compiled(connection.alias, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    if compiled.converters:
        row = next(compiled.compiler.apply_converters([row], compiled.converters))
    api_key = ApiKey.from_db(connection.alias, compiled.key_fields, [row[i] for i in compiled.key_columns])
    api_key.user = User.from_db(connection.alias, compiled.user_fields, [row[i] for i in compiled.user_columns])
    return api_key
