# A simulation study, one task per parameter setting: the example sweep of
# Pulumi.dev.yaml (kubepar:sweeps). Each task gets its own reproducible
# random stream from kubepar_task(), so a retried or re-run task draws the
# same numbers; kubepar_save() writes its result atomically.
task <- kubepar_task()
sizes <- c(10, 20, 50, 100, 200)
n <- sizes[task$index %% length(sizes) + 1]
estimates <- replicate(200, {
  x <- rexp(n, rate = 1)
  c(mean = mean(x), median = median(x))
})
kubepar_save(data.frame(task = task$index, n = n,
                        bias_mean = mean(estimates["mean", ]) - 1,
                        bias_median = mean(estimates["median", ]) - log(2)))
