"""Import and export over the API (placeholder until the importer lands)."""

from ninja import Router

router = Router(tags=["import and export"])
