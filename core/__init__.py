"""The bottom layer: what every app shares and nothing of the store's own. The DomainError tree (exceptions.py), its
HTTP shapes (errors.py) and the reading of JSON bodies (json_input.py). It imports Django and DRF, never an app."""
