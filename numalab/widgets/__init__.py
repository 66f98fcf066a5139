"""ipywidgets panels for live use in JupyterLab (one module per topic). The same exploration is
available in reports through Altair-bound parameters (see ``numalab.viz``)."""
