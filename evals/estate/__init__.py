"""The synthetic sample estate: eight legacy systems with known problems and ground truth."""

from evals.estate.generator import generate_estate, load_manifest
from evals.estate.model import EstateManifest, SourceEntry, SystemEntry

__all__ = ["EstateManifest", "SourceEntry", "SystemEntry", "generate_estate", "load_manifest"]
