"""The read APIs: Simple, Integrity, JSON and the HTML pages."""
