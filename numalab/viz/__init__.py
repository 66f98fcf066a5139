"""Altair charts (one module per topic). Charts use bound parameters so that the exploration
keeps working in an exported HTML report with no live kernel."""
