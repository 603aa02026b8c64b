"""Routes of the HF Hub protocol. Revisions are single path segments (branch, tag or sha)."""

from django.urls import path, re_path

from registry.api import hf_read, hf_write, lfs, xet

NS = r"(?P<namespace>[A-Za-z0-9][A-Za-z0-9_.-]*)"
NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*?)"
REV = r"(?P<revision>[^/]+)"

api_urlpatterns = [
    path("api/whoami-v2", hf_read.whoami, name="hf-whoami"),
    path("api/repos/create", hf_write.create_repo, name="hf-create-repo"),
    path("api/repos/delete", hf_write.delete_repo, name="hf-delete-repo"),
    path("api/validate-yaml", hf_write.validate_yaml, name="hf-validate-yaml"),
    path("api/models", hf_read.model_list, name="hf-model-list"),
    path("api/lfs/upload/<str:token>", lfs.upload, name="lfs-upload"),
    re_path(rf"^api/models/{NS}/{NAME}/revision/{REV}$", hf_read.model_info, name="hf-model-revision"),
    re_path(rf"^api/models/{NS}/{NAME}/tree/{REV}(?:/(?P<path>.+))?$", hf_read.tree, name="hf-tree"),
    re_path(rf"^api/models/{NS}/{NAME}/preupload/{REV}$", hf_write.preupload, name="hf-preupload"),
    re_path(rf"^api/models/{NS}/{NAME}/commit/{REV}$", hf_write.commit, name="hf-commit"),
    re_path(rf"^api/models/{NS}/{NAME}/tag/{REV}$", hf_write.tag, name="hf-tag"),
    re_path(rf"^api/models/{NS}/{NAME}/refs$", hf_read.refs, name="hf-refs"),
    re_path(rf"^api/models/{NS}/{NAME}/xet-(?P<kind>read|write)-token/{REV}$", xet.token, name="hf-xet-token"),
    re_path(rf"^api/models/{NS}/{NAME}/settings$", hf_write.repo_settings, name="hf-settings"),
    re_path(rf"^api/models/{NS}/{NAME}$", hf_read.model_info, name="hf-model-info"),
]

# These share the root namespace with the web pages, so they go last in config/urls.py.
file_urlpatterns = [
    re_path(rf"^{NS}/{NAME}\.git/info/lfs/objects/batch$", lfs.batch, name="lfs-batch"),
    re_path(rf"^{NS}/{NAME}/resolve/{REV}/(?P<path>.+)$", hf_read.resolve, name="hf-resolve"),
]

# The Xet CAS (registry/api/xet.py), under its own prefix: the casUrl that the token endpoints hand out.
HASH = r"(?P<hash_text>[^/]+)"
cas_urlpatterns = [
    re_path(rf"^{xet.PREFIX}/v1/xorbs/(?P<prefix>[^/]+)/{HASH}$", xet.xorb, name="xet-xorb"),
    re_path(rf"^{xet.PREFIX}/v1/shards$", xet.shards, name="xet-shards"),
    re_path(rf"^{xet.PREFIX}/v1/chunks/(?P<prefix>[^/]+)/{HASH}$", xet.chunk, name="xet-chunk"),
    re_path(rf"^{xet.PREFIX}/v1/files/(?P<file_id>[^/]+)$", xet.file, name="xet-file"),
    re_path(
        rf"^{xet.PREFIX}/v(?P<version>[12])/reconstructions/(?P<file_id>[^/]+)$",
        xet.reconstruction,
        name="xet-reconstruction",
    ),
    re_path(rf"^{xet.PREFIX}/v1/fetch/(?P<grant_text>[^/]+)$", xet.fetch, name="xet-fetch"),
]
