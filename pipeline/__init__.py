"""csac: render CSAC conventions for the Resah and take in the signed deposits."""

__version__ = "0.1.0"
