"""Jupyter server extension: the REST API behind the JupyterLab panel."""
