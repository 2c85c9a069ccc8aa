# The single-user server of an RStudio session: /rstudio/ forwards to the rserver
# beside it on the pod's loopback (started by its own container, so no command
# here). Loaded through JUPYTER_CONFIG_PATH, which the session pod sets.
# ruff: noqa: F821 (``c`` is the configuration object Jupyter provides)
c.ServerProxy.servers = {
    "rstudio": {
        "port": 8787,
        "absolute_url": False,
        "timeout": 120,
        "launcher_entry": {"title": "RStudio"},
    }
}
