"""What the registry tells the layers above it, which connect in their AppConfig.ready (the registry never imports
them). Receivers run in the sender's process; a receiver that fails is logged and does not undo the sender's work."""

from django.dispatch import Signal

# A commit's validation finished (valid or not). Arguments: model_id, commit_id, valid.
commit_validated = Signal()
