# kubepar package installer: runs once per pod, in an init container.
#
# Installs the CRAN packages named in KUBEPAR_PACKAGES (space-separated:
# kubepar's own, then the user's) into KUBEPAR_LIBRARY, from the repository in
# KUBEPAR_CRAN: a dated Posit Package Manager snapshot of Linux binaries, the
# same for every pod of the stack, so every pod loads identical versions and
# nothing compiles. The image's Rprofile.site still applies (rocker sets the
# HTTP user agent that makes that repository serve binaries). Without
# KUBEPAR_CRAN, the image's own repository is used. Fails (exit 1) naming
# every package that did not install.

packages <- strsplit(trimws(Sys.getenv("KUBEPAR_PACKAGES")), "[[:space:]]+")[[1]]
packages <- packages[nzchar(packages)]
library_dir <- Sys.getenv("KUBEPAR_LIBRARY", unset = "")
if (!nzchar(library_dir)) {
  message("kubepar: KUBEPAR_LIBRARY is not set")
  quit(status = 2)
}
dir.create(library_dir, recursive = TRUE, showWarnings = FALSE)
if (length(packages) == 0L) quit(status = 0)

cran <- Sys.getenv("KUBEPAR_CRAN", unset = "")
if (nzchar(cran)) options(repos = c(CRAN = cran))
repos <- getOption("repos")
message("kubepar: installing ", paste(packages, collapse = ", "), " from ",
        paste(repos, collapse = ", "), " into ", library_dir)
already <- rownames(installed.packages(lib.loc = library_dir))
wanted <- setdiff(packages, already)
if (length(wanted) > 0L) {
  withCallingHandlers(
    # The pod's CPU limit (KUBEPAR_INSTALL_CPUS), not detectCores(): that counts the node's CPUs.
    install.packages(wanted, lib = library_dir, quiet = TRUE,
                     Ncpus = max(1L, suppressWarnings(as.integer(Sys.getenv("KUBEPAR_INSTALL_CPUS", "1"))),
                                 na.rm = TRUE)),
    warning = function(w) {
      message("kubepar: ", conditionMessage(w))
      invokeRestart("muffleWarning")
    })
}

missing <- packages[!vapply(packages, function(p) {
  requireNamespace(p, lib.loc = c(library_dir, .libPaths()), quietly = TRUE)
}, logical(1))]
if (length(missing) > 0L) {
  message(sprintf(paste0(
    "kubepar: package(s) not installed: %s. ",
    "They are not on %s for R %s, or failed to load. ",
    "Check the names in kubepar:packages (CRAN names are case-sensitive)."),
    paste(missing, collapse = ", "), paste(repos, collapse = ", "),
    paste(R.version$major, R.version$minor, sep = ".")))
  quit(status = 1)
}
message("kubepar: installed ", paste(packages, collapse = ", "))
