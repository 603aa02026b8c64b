from django.urls import re_path

from registry.api.urls import NAME, NS
from training import views

urlpatterns = [
    re_path(r"^settings/jobs$", views.job_list, name="jobs"),
    re_path(r"^jobs/(?P<job_id>ftjob-[0-9a-f]+)$", views.job_detail, name="job-detail"),
    re_path(r"^jobs/(?P<job_id>ftjob-[0-9a-f]+)/(?P<action>cancel|pause|resume)$", views.job_action, name="job-action"),
    re_path(rf"^{NS}/{NAME}/fine-tune$", views.new_fine_tune, name="fine-tune-new"),
    re_path(r"^new/from-scratch$", views.new_from_scratch, name="pretrain-new"),
]
