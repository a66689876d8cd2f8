"""Samples bundled with evsh: the shop domain (``--domain shop``) and its demos."""
