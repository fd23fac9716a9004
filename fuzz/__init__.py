"""Coverage-guided fuzzing of attestkit's parsers with atheris (on demand, not in CI)."""
