from django.urls import re_path

from compression import views
from registry.api.urls import NAME, NS

urlpatterns = [re_path(rf"^{NS}/{NAME}/compress$", views.new_compression, name="compress-new")]
