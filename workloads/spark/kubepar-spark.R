# kubepar's R profile with kubepar:spark set: kubepar.R (kubepar_plan() and
# the rest), then kubepar_spark() beside them. A stack without Spark keeps
# R_PROFILE_USER on kubepar.R itself, so turning Spark on changes nothing else.
source(file.path(dirname(Sys.getenv("R_PROFILE_USER")), "kubepar.R"), local = FALSE)

# The stack's Spark Connect cluster, through sparklyr and pysparklyr: no JVM
# here. The Python client lives in the virtualenv the pod's init container
# made, at exactly the server's version.
assign("kubepar_spark", function(...) {
  remote <- Sys.getenv("KUBEPAR_SPARK_REMOTE")
  if (!nzchar(remote)) {
    stop("kubepar: this stack has no Spark; set kubepar:spark (for example {workers: 2}) and run make up",
         call. = FALSE)
  }
  for (package in c("sparklyr", "pysparklyr")) {
    if (!requireNamespace(package, quietly = TRUE)) {
      stop("kubepar: ", package, " is not installed; the pod's init container installs it with ",
           "kubepar:spark set (see its log: kubectl logs <pod> -c install-packages)", call. = FALSE)
    }
  }
  version <- Sys.getenv("KUBEPAR_SPARK_VERSION")
  envname <- file.path(Sys.getenv("RETICULATE_VIRTUALENV_ROOT"), Sys.getenv("KUBEPAR_SPARK_ENV"))
  sparklyr::spark_connect(master = remote, method = "spark_connect",
                          version = sub("^([0-9]+[.][0-9]+).*$", "\\1", version),
                          envname = envname, ...)
}, pos = "kubepar")
