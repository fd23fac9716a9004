"""The upload pipeline: ``POST /legacy/`` validated, verified and recorded."""
