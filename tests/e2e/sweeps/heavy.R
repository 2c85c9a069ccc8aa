# Test sweep: a large result, so that saving it takes a while (a kill can land mid-write).
task <- kubepar_task()
u <- runif(1)
kubepar_save(list(index = task$index, u = u, big = runif(6e6)))
