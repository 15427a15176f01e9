"""The MLflow tracking REST API over skytune's core: `MLFLOW_TRACKING_URI=<skytune url>` makes an
unmodified MLflow client log into skytune. `translate` maps MLflow's shapes to skytune's and back
(pure); `app` holds the routes; `handler` is the Lambda entry point."""
