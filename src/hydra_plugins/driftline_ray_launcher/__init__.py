"""driftline's Hydra launcher for Ray: `driftline sweep <p> hydra/launcher=ray`.

The same config shape as hydra-ray-launcher's `ray` launcher (`hydra.launcher.ray.init.*` are
`ray.init` arguments, `hydra.launcher.ray.remote.*` the options of each job's remote task), and
the same job flow, but on cloudpickle 3: hydra-ray-launcher 1.2.2 pins cloudpickle<3, which dask
needs, so pip cannot install it beside driftline's dask extra.

Hydra finds it by scanning the `hydra_plugins` namespace package: `config.py` registers
`hydra/launcher=ray`, `ray_launcher.py` holds the Launcher; `_core.py` (skipped by the scan, so
that a sweep on another launcher never imports Ray) starts or joins Ray and runs the jobs.
"""
