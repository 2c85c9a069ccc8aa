"""Facts of the rocker images that both the R engine and the policy pack rely on.

Owns: what rocker/rstudio's init needs (it starts as root, sets up the
``rstudio`` user, then drops to it) and the UIDs involved; read from
rocker-versioned2's build scripts. Does not: choose images (engines/r.py).
Invariant: the pack allows exactly these capabilities to the one root-init
container, and the R engine adds exactly these.
"""

from __future__ import annotations

# rocker's s6 init runs as root to set up the rstudio user and then drops to
# it; these are the capabilities that needs (the container default set without
# raw sockets, mknod or file capabilities).
ROCKER_INIT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "AUDIT_WRITE")
RSTUDIO_UID = 1000
"""The ``rstudio`` user rocker creates; sessions run as it."""
# rocker's default library path, kept behind ours (R_LIBS replaces, not appends).
ROCKER_LIBS = "/usr/local/lib/R/site-library:/usr/local/lib/R/library"
