from drf_spectacular.utils import inline_serializer
from rest_framework import serializers


class CreditsSerializer(serializers.Serializer):
    balance = serializers.CharField(help_text="Credits in the wallet, as a decimal string.")
    total_credits = serializers.CharField(help_text="Credits bought, net of refunded top-ups.")
    total_usage = serializers.CharField(help_text="Credits spent on calls, net of refunds.")


# The answers' shapes, for the schema only (a field named `data` would shadow Serializer.data on a real one)
CreditsResponseSerializer = inline_serializer("CreditsResponse", fields={"data": CreditsSerializer()})


class UsageRowSerializer(serializers.Serializer):
    day = serializers.DateField(required=False)
    model = serializers.CharField(required=False)
    key_id = serializers.IntegerField(required=False)
    key_name = serializers.CharField(required=False)
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost = serializers.CharField()


UsageResponseSerializer = inline_serializer(
    "UsageResponse",
    fields={
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "group_by": serializers.ChoiceField(choices=["day", "model", "key"]),
        "data": UsageRowSerializer(many=True),
    },
)
