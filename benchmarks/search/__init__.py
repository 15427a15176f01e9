"""Run search: skytune on DynamoDB Local against MLflow's SQLite tracking store (see README.md)."""
