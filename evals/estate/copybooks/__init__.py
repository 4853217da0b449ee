"""COBOL copybooks of the sample estate (package data)."""
