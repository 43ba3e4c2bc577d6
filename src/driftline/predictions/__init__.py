"""The prediction log: every served decision, durable before the response is sent, and the labels that
are joined to it later. Written by `driftline.serve`; read by the monitor and `driftline audit trace`."""
